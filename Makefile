# The two set-up commands of the README: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test bench examples clean

# Scanning needs only the base install; tests also need Keras (training) and the dev tools.
$(BIN)/.base: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	touch $@

$(BIN)/.dev: $(BIN)/.base
	$(BIN)/python -m pip install -q -e ".[train,test]"
	touch $@

demo: $(BIN)/.base
	$(BIN)/notes-ocr scan examples/

test: $(BIN)/.dev
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

# The page benchmark against Tesseract (installed from Debian when missing and we are root).
bench: $(BIN)/.dev
	$(BIN)/python -m pip install -q -e ".[bench]"
	command -v tesseract >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
		apt-get install -y -qq tesseract-ocr >/dev/null; } || true
	$(BIN)/python -m benchmarks.pages
	$(BIN)/python -m benchmarks.separators
	$(BIN)/python -m benchmarks.real
	$(BIN)/python -m benchmarks.conditions
	$(BIN)/python -m benchmarks.digits
	$(BIN)/python -m benchmarks.startup
	$(BIN)/python -m benchmarks.throughput

examples: $(BIN)/.dev
	$(BIN)/python examples/make_examples.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache

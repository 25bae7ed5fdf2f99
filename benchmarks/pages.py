"""Page benchmark: notes-ocr on synthetic note pages with known text.

    python -m benchmarks.pages [--pages 20] [--cache benchmarks/.cache/pages]

Pages are drawn by ``benchmarks.synth`` from MNIST test digits (never trained on), with
fixed seeds, so every run scores the same pages. They are scanned the way the independent
evaluation does it, ``notes-ocr scan --format jsonl FOLDER`` in a fresh process, and scored
per paper family: character error rate over the page text (lines joined by newlines),
digit error rate, exact lines, exact pages, and pages per second (start-up included).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.metrics import Score
from benchmarks.synth import PAPERS, make_page, random_spec, write_page

CACHE = Path(__file__).resolve().parent / ".cache" / "pages"


def build_pages(folder: Path, per_family: int, seed: int = 2024) -> dict[str, list[str]]:
    """Write the benchmark pages (once) and return each file's truth lines."""
    truth_file = folder / f"truth-{per_family}-{seed}.json"
    if truth_file.exists():
        return json.loads(truth_file.read_text())
    from notes_ocr.mnist import load_mnist

    mnist = load_mnist()
    folder.mkdir(parents=True, exist_ok=True)
    truth: dict[str, list[str]] = {}
    for family_index, family in enumerate(PAPERS):
        for number in range(per_family):
            rng = np.random.default_rng([seed, family_index, number])
            spec = random_spec(rng, family)
            page = make_page(spec, mnist.x_test, mnist.y_test)
            name = f"{family}_{number:03d}" + (".jpg" if spec.jpeg_quality else ".png")
            write_page(page, folder / name, jpeg_quality=spec.jpeg_quality or 95)
            truth[name] = page.lines
    truth_file.write_text(json.dumps(truth, indent=1))
    return truth


def run_notes_ocr(folder: Path) -> tuple[dict[str, list[str]], float]:
    """Scan the folder with the CLI; return each file's lines and the wall time."""
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "notes_ocr", "scan", "--format", "jsonl", str(folder)],
        capture_output=True, text=True, check=False,
    )
    elapsed = time.perf_counter() - start
    if result.returncode not in (0, 1):
        raise SystemExit(f"notes-ocr failed ({result.returncode}): {result.stderr.strip()}")
    read = {}
    for line in result.stdout.splitlines():
        record = json.loads(line)
        read[Path(record["source"]).name] = [entry["text"] for entry in record["lines"]]
    return read, elapsed


def family_of(name: str) -> str:
    return name.split("_", 1)[0]


def report(truth: dict[str, list[str]], read: dict[str, list[str]], elapsed: float) -> str:
    families: dict[str, Score] = {}
    overall = Score()
    for name, lines in sorted(truth.items()):
        predicted = read.get(name, [])
        families.setdefault(family_of(name), Score()).add(predicted, lines)
        overall.add(predicted, lines)
    rows = ["| family | pages | CER | digit error | exact lines | exact pages |",
            "|---|---|---|---|---|---|"]
    for family, score in [*sorted(families.items()), ("all", overall)]:
        rows.append(
            f"| {family} | {score.pages} | {score.cer:.2%} | {score.digit_error_rate:.2%} | "
            f"{score.exact_line_rate:.1%} | {score.exact_page_rate:.1%} |"
        )
    rows.append("")
    rows.append(f"notes-ocr: {overall.pages / elapsed:.2f} pages/s "
                f"({overall.pages} pages in {elapsed:.1f} s, one process, start-up included)")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=20, help="pages per paper family")
    parser.add_argument("--cache", type=Path, default=CACHE)
    args = parser.parse_args(argv)
    folder = args.cache / f"set-{args.pages}"
    truth = build_pages(folder, args.pages)
    read, elapsed = run_notes_ocr(folder)
    print(report(truth, read, elapsed))


if __name__ == "__main__":
    main()

"""Page benchmark: notes-ocr and Tesseract on synthetic note pages with known text.

    python -m benchmarks.pages [--pages 20] [--cache benchmarks/.cache/pages]
                               [--plot benchmarks/pages.png] [--json PATH] [--no-tesseract]
                               [--seed 2024]

Pages are drawn by ``notes_ocr.testing.synth`` from MNIST test digits (never trained on), with
fixed seeds, so every run scores the same pages. Segmentation and decoding were tuned on
the default set, so its figures flatter them; ``--seed 7 --pages 40`` draws a held-out set
of fresh pages that nothing was tuned on. There are five families: scans of plain,
ruled and grid paper, phone photos of any of them, and pages in a second hand that is not
MNIST at all ("script", drawn pen paths on mixed paper), which shows how the recognizer
does away from its training distribution.

They are scanned the way the independent evaluation does it, ``notes-ocr scan --format
jsonl FOLDER`` in a fresh process, and scored per family: character error rate over the
page text (lines joined by newlines), digit error rate, exact lines, exact pages, and pages
per second (start-up included).

Tesseract (Debian: ``apt-get install -y tesseract-ocr``) reads the same pages in the same
run, restricted to digits, with each of page segmentation modes 4, 6 and 11; the mode with
the fewest errors over the whole set is reported (choosing per page would peek at the
truth). A PNG plot compares the two per family.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from multiprocessing import Pool
from multiprocessing.pool import ThreadPool
from pathlib import Path

import numpy as np

from notes_ocr.testing import synth
from notes_ocr.testing.metrics import Score, total
from notes_ocr.testing.synth import PAPERS, Box, PageSpec, make_page, random_spec, write_page

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache" / "pages"
PLOT = HERE / "pages.png"
# Scans of each paper, phone photos (MNIST digits), then the second hand on mixed paper.
FAMILIES = ("plain", "ruled", "grid", "photo", "script")
TRUTH_NAME, BOXES_NAME = "truth.json", "boxes.json"  # what a set's folder holds beside its pages
TESSERACT_PSMS = (4, 6, 11)
TESSERACT_WHITELIST = "0123456789 "
INSTALL_TESSERACT = "apt-get install -y tesseract-ocr"
# Two at a time: the machines this runs on have two cores to spare.
WORKERS = 2


# --- pages --------------------------------------------------------------------------------


def family_spec(rng: np.random.Generator, family: str, number: int) -> PageSpec:
    """The page spec of page ``number`` of ``family``."""
    if family == "script":
        return random_spec(rng, PAPERS[number % len(PAPERS)], style="script")
    return random_spec(rng, family)


def set_folder(cache: Path, per_family: int, seed: int) -> Path:
    """Where the page set lives: named by the generator's source, so that a change to the
    generator builds a new set instead of scoring stale pages."""
    digest = hashlib.sha256(Path(synth.__file__).read_bytes())
    digest.update(repr((FAMILIES, per_family, seed)).encode())
    return cache / f"set-{per_family}-{digest.hexdigest()[:10]}"


_MNIST = None


def _load_digits() -> None:
    global _MNIST
    from notes_ocr.mnist import load_mnist

    _MNIST = load_mnist()


def _render(job: tuple[Path, int, int, int]) -> tuple[str, list[str], list[list[Box]]]:
    """Write one page; ``job`` is (folder, seed, family index, page number)."""
    folder, seed, family_index, number = job
    family = FAMILIES[family_index]
    spec = family_spec(np.random.default_rng([seed, family_index, number]), family, number)
    page = make_page(spec, _MNIST.x_test, _MNIST.y_test)
    name = f"{family}_{number:03d}" + (".jpg" if spec.jpeg_quality else ".png")
    write_page(page, folder / name, jpeg_quality=spec.jpeg_quality or 95)
    return name, page.lines, page.digit_boxes


def build_pages(folder: Path, per_family: int, seed: int = 2024) -> dict[str, list[str]]:
    """Write the benchmark pages (once) and return each file's truth lines.

    Each digit's box goes to ``boxes.json`` beside them (see `truth_boxes`); a set written
    before there were boxes is written again.
    """
    truth_file, boxes_file = folder / TRUTH_NAME, folder / BOXES_NAME
    if truth_file.exists() and boxes_file.exists():
        return json.loads(truth_file.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    jobs = [(folder, seed, f, n) for f in range(len(FAMILIES)) for n in range(per_family)]
    with Pool(WORKERS, initializer=_load_digits) as pool:
        rendered = list(pool.imap(_render, jobs))
    truth = {name: lines for name, lines, _ in rendered}
    boxes_file.write_text(json.dumps({name: boxes for name, _, boxes in rendered}))
    truth_file.write_text(json.dumps(truth, indent=1))
    return truth


def truth_boxes(folder: Path) -> dict[str, list[list[Box]]]:
    """Each file's digit boxes, line by line, from a set `build_pages` wrote."""
    return {
        name: [[tuple(box) for box in line] for line in lines]
        for name, lines in json.loads((folder / BOXES_NAME).read_text()).items()
    }


def family_of(name: str) -> str:
    return name.split("_", 1)[0]


# --- readers ------------------------------------------------------------------------------


def scan_folder(folder: Path, model: Path | None = None) -> tuple[list[dict], float]:
    """``notes-ocr scan --format jsonl FOLDER`` in a fresh process, as a user runs it: its
    records and the wall time, start-up included. ``model``: another model than the
    shipped one."""
    start = time.perf_counter()
    extra = [] if model is None else ["--model", str(model)]
    result = subprocess.run(
        [sys.executable, "-m", "notes_ocr", "scan", "--format", "jsonl", *extra, str(folder)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    elapsed = time.perf_counter() - start
    if result.returncode not in (0, 1):
        raise SystemExit(f"notes-ocr failed ({result.returncode}): {result.stderr.strip()}")
    return [json.loads(line) for line in result.stdout.splitlines()], elapsed


def run_notes_ocr(folder: Path) -> tuple[dict[str, list[str]], float]:
    """Scan the folder with the CLI; return each file's lines and the wall time."""
    records, elapsed = scan_folder(folder)
    return {Path(record["source"]).name: [entry["text"] for entry in record["lines"]]
            for record in records}, elapsed


def tesseract_lines(text: str) -> list[str]:
    """Tesseract's output as digit lines: stripped, runs of spaces made one, no blank lines."""
    lines = (re.sub(r"[ \t]+", " ", raw).strip() for raw in text.splitlines())
    return [line for line in lines if line]


def _tesseract_page(job: tuple[Path, int, str]) -> tuple[str, int, list[str], float]:
    """Read one page with Tesseract in mode ``psm``, only the characters of ``whitelist``:
    (file name, psm, lines, seconds)."""
    path, psm, whitelist = job
    command = ["tesseract", str(path), "stdout", "--psm", str(psm),
               "-c", f"tessedit_char_whitelist={whitelist}"]  # fmt: skip
    # One thread each: the pages are already read two at a time.
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    elapsed = time.perf_counter() - start
    lines = tesseract_lines(result.stdout) if result.returncode == 0 else []
    return path.name, psm, lines, elapsed


def tesseract_version() -> str:
    """Tesseract's version number, e.g. "5.3.0"."""
    result = subprocess.run(["tesseract", "--version"], capture_output=True, text=True, check=False)
    words = (result.stdout or result.stderr).split()
    return words[1] if len(words) > 1 else "?"


def run_tesseract(
    folder: Path, names: list[str], whitelist: str = TESSERACT_WHITELIST,
    psms: tuple[int, ...] = TESSERACT_PSMS,
) -> tuple[dict[int, dict[str, list[str]]], dict[int, float], float]:
    """Read every page with every mode in ``psms``, only the characters of ``whitelist``
    (digits and the space by default).

    Returns the lines per mode and file, the summed per-page seconds per mode (one page at a
    time, start-up included, as our figure is) and the wall time of the whole sweep.
    """
    read: dict[int, dict[str, list[str]]] = {psm: {} for psm in psms}
    seconds = dict.fromkeys(psms, 0.0)
    jobs = [(folder / name, psm, whitelist) for psm in psms for name in names]
    start = time.perf_counter()
    # Each job is a tesseract process of its own; threads are enough to keep two going.
    with ThreadPool(WORKERS) as pool:
        for name, psm, lines, elapsed in pool.imap_unordered(_tesseract_page, jobs):
            read[psm][name] = lines
            seconds[psm] += elapsed
    return read, seconds, time.perf_counter() - start


# --- scores -------------------------------------------------------------------------------


def page_scores(truth: dict[str, list[str]], read: dict[str, list[str]]) -> dict[str, Score]:
    """Each page's score; a page the reader gave nothing for reads as no lines."""
    scores = {}
    for name, lines in truth.items():
        score = Score()
        score.add(read.get(name, []), lines)
        scores[name] = score
    return scores


def by_family(scores: dict[str, Score]) -> dict[str, Score]:
    """Scores summed per family in `FAMILIES` order, then "all"."""
    out = {}
    for family in FAMILIES:
        members = [s for name, s in scores.items() if family_of(name) == family]
        if members:
            out[family] = total(members)
    out["all"] = total(list(scores.values()))
    return out


def cer_interval(scores: list[Score], resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95% bootstrap interval of the CER of ``scores``, resampling whole pages."""
    errors = np.array([s.char_errors for s in scores], np.float64)
    chars = np.array([s.chars for s in scores], np.float64)
    picks = np.random.default_rng(seed).integers(0, len(scores), (resamples, len(scores)))
    rates = errors[picks].sum(axis=1) / np.maximum(chars[picks].sum(axis=1), 1)
    low, high = np.quantile(rates, [0.025, 0.975])
    return float(low), float(high)


def best_psm(scores: dict[int, dict[str, Score]]) -> int:
    """The Tesseract mode with the fewest character errors over the whole set."""
    return min(scores, key=lambda psm: (total(list(scores[psm].values())).char_errors, psm))


def ratio(theirs: int, ours: int) -> str:
    """Tesseract's errors over ours, as "12.3x"."""
    if ours == 0:
        return "-" if theirs == 0 else "inf"
    return f"{theirs / ours:.1f}x"


def metrics(score: Score) -> dict[str, float | int]:
    return {
        "pages": score.pages,
        "cer": score.cer,
        "digit_error_rate": score.digit_error_rate,
        "exact_line_rate": score.exact_line_rate,
        "exact_page_rate": score.exact_page_rate,
        "char_errors": score.char_errors,
        "chars": score.chars,
    }


# --- report -------------------------------------------------------------------------------


def table(ours: dict[str, Score], tess: dict[str, Score] | None) -> str:
    """Markdown table, a row per family and one for all, ours and Tesseract side by side."""
    if tess is None:
        rows = ["| family | pages | CER | digit error | exact lines | exact pages |",
                "|---|---|---|---|---|---|"]  # fmt: skip
        for family, s in ours.items():
            rows.append(
                f"| {family} | {s.pages} | {s.cer:.2%} | {s.digit_error_rate:.2%} | "
                f"{s.exact_line_rate:.1%} | {s.exact_page_rate:.1%} |"
            )
        return "\n".join(rows)
    rows = [
        "| family | pages | CER ours | CER Tess. | digit err. ours | digit err. Tess. "
        "| exact lines ours | exact lines Tess. | exact pages ours | exact pages Tess. "
        "| Tess./ours errors |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for family, s in ours.items():
        t = tess[family]
        rows.append(
            f"| {family} | {s.pages} | {s.cer:.2%} | {t.cer:.2%} | {s.digit_error_rate:.2%} | "
            f"{t.digit_error_rate:.2%} | {s.exact_line_rate:.1%} | {t.exact_line_rate:.1%} | "
            f"{s.exact_page_rate:.1%} | {t.exact_page_rate:.1%} | "
            f"{ratio(t.char_errors, s.char_errors)} |"
        )
    return "\n".join(rows)


def plot(
    ours: dict[str, Score], ours_pages: dict[str, Score],
    tess: dict[str, Score] | None, tess_pages: dict[str, Score] | None,
    psm: int | None, path: Path,
) -> bool:  # fmt: skip
    """Per-family CER bars with 95% bootstrap intervals, ours against Tesseract, as PNG.

    Returns False (and says so) when matplotlib is missing.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("no plot: matplotlib is not installed (pip install matplotlib)")
        return False
    families = list(ours)
    systems = [("notes-ocr", ours, ours_pages, "#1f6fb4")]
    if tess is not None and tess_pages is not None:
        systems.append((f"Tesseract (psm {psm})", tess, tess_pages, "#d9822b"))
    x = np.arange(len(families))
    width = 0.8 / len(systems)
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=120)
    for i, (label, summed, pages, color) in enumerate(systems):
        rates, low, high = [], [], []
        for family in families:
            members = [s for n, s in pages.items() if family == "all" or family_of(n) == family]
            lo, hi = cer_interval(members)
            rate = summed[family].cer
            rates.append(100 * rate)
            low.append(100 * max(rate - lo, 0))
            high.append(100 * max(hi - rate, 0))
        offset = (i - (len(systems) - 1) / 2) * width
        ax.bar(x + offset, rates, width, yerr=[low, high], capsize=3, label=label, color=color)
        # The value goes above the interval's whisker, where it can't be overwritten.
        for xi, rate, up in zip(x + offset, rates, high, strict=True):
            ax.annotate(f"{rate:.1f}", (xi, rate + up), xytext=(0, 2), textcoords="offset points",
                        ha="center", va="bottom", fontsize=7)  # fmt: skip
    ax.set_xticks(x, families)
    ax.set_ylabel("character error rate, % (95% interval over pages)")
    pages_each = next(iter(ours.values())).pages
    ax.set_title(f"Synthetic note pages, {pages_each} per family: lower is better")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=20, help="pages per family")
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--plot", type=Path, default=PLOT, help="PNG plot to write")
    parser.add_argument("--json", type=Path, help="write the numbers to this JSON file")
    parser.add_argument("--no-tesseract", action="store_true", help="score notes-ocr only")
    parser.add_argument(
        "--seed", type=int, default=2024,
        help="seed of the page set; the reported figures use the default, and another draws "
             "fresh pages to check that a change tuned on those holds",
    )
    args = parser.parse_args(argv)
    if args.pages < 1:
        parser.error("--pages must be at least 1")
    began = time.perf_counter()

    folder = set_folder(args.cache, args.pages, args.seed)
    truth = build_pages(folder, args.pages, args.seed)
    read, elapsed = run_notes_ocr(folder)
    ours_pages = page_scores(truth, read)
    ours = by_family(ours_pages)

    tess = tess_pages = psm = None
    psm_scores: dict[int, dict[str, Score]] = {}
    tess_seconds: dict[int, float] = {}
    tess_wall = 0.0
    if args.no_tesseract:
        pass
    elif shutil.which("tesseract") is None:
        print(f"Tesseract not found, its columns left out; to install: {INSTALL_TESSERACT}")
    else:
        tess_read, tess_seconds, tess_wall = run_tesseract(folder, sorted(truth))
        psm_scores = {p: page_scores(truth, tess_read[p]) for p in TESSERACT_PSMS}
        psm = best_psm(psm_scores)
        tess_pages = psm_scores[psm]
        tess = by_family(tess_pages)

    print(table(ours, tess))
    print()
    n = ours["all"].pages
    print(f"notes-ocr: {n / elapsed:.2f} pages/s "
          f"({n} pages in {elapsed:.1f} s, one `notes-ocr scan` with the default --jobs, "
          "start-up included)")  # fmt: skip
    if tess is not None and psm is not None:
        print(
            f"Tesseract {tesseract_version()}, psm {psm}: {n / tess_seconds[psm]:.2f} pages/s "
            f"({tess_seconds[psm]:.1f} s, one page at a time, start-up included); "
            f"error ratio overall {ratio(tess['all'].char_errors, ours['all'].char_errors)}"
        )
        modes = ", ".join(
            f"psm {p} {total(list(s.values())).cer:.2%}" for p, s in psm_scores.items()
        )
        print(f"Tesseract CER by mode over the whole set: {modes} "
              f"(best chosen once for all pages; all modes read in {tess_wall:.1f} s "
              f"with {WORKERS} workers)")  # fmt: skip
    if plot(ours, ours_pages, tess, tess_pages, psm, args.plot):
        print(f"plot: {args.plot}")
    if args.json:
        numbers = {
            "pages_per_family": args.pages,
            "families": list(ours),
            "pages_folder": str(folder),
            "notes_ocr": {
                "scores": {f: metrics(s) for f, s in ours.items()},
                "pages_per_second": n / elapsed,
                "seconds": elapsed,
            },
        }
        if tess is not None and psm is not None:
            numbers["tesseract"] = {
                "version": tesseract_version(),
                "psm": psm,
                "scores": {f: metrics(s) for f, s in tess.items()},
                "pages_per_second": n / tess_seconds[psm],
                "seconds": tess_seconds[psm],
                "cer_by_psm": {str(p): total(list(s.values())).cer for p, s in psm_scores.items()},
                "error_ratio": {
                    f: tess[f].char_errors / s.char_errors if s.char_errors else None
                    for f, s in ours.items()
                },
            }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(numbers, indent=2) + "\n")
        print(f"numbers: {args.json}")
    print(f"benchmark run time: {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()

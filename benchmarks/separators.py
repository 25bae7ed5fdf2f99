"""Separators benchmark: numbers written with / - . , : and how they are read.

    python -m benchmarks.separators [--pages 8] [--seed 2024] [--no-tesseract] [--json PATH]

Pages of the page benchmark's families (plain, ruled and grid scans, phone photos, a
second hand) written with ``PageSpec(separators=True)``: dates with ``/ . -``, times,
amounts with ``.`` and ``,``, phone numbers with ``-``, and plain lines, the separators
drawn with the digits' pen (``notes_ocr.testing.synth``). notes-ocr reads them with one
``notes-ocr scan --format jsonl FOLDER``; Tesseract with digits, separators and the space
whitelisted, its best mode chosen once. Scores: the character error counting separators,
the digit error (digits alone), exact lines, and the separators' recall and precision
(aligned to the truth's, page by page: ``SeparatorScore``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import replace
from multiprocessing import Pool
from pathlib import Path

import numpy as np

import benchmarks.pages as page_benchmark
from benchmarks.pages import (
    FAMILIES,
    INSTALL_TESSERACT,
    TESSERACT_PSMS,
    WORKERS,
    family_spec,
    page_scores,
    run_notes_ocr,
    run_tesseract,
    set_folder,
    tesseract_version,
)
from notes_ocr.testing.metrics import SEPARATORS, Score, SeparatorScore, total
from notes_ocr.testing.synth import make_page, write_page

CACHE = Path(__file__).resolve().parent / ".cache" / "separators"
WHITELIST = "0123456789" + SEPARATORS + " "
TRUTH_NAME = "truth.json"


def _render(job: tuple[Path, int, int, int]) -> tuple[str, list[str]]:
    """Write one page; ``job`` is (folder, seed, family index, page number). Runs in a worker
    that ``benchmarks.pages._load_digits`` started."""
    folder, seed, family_index, number = job
    family = FAMILIES[family_index]
    spec = family_spec(np.random.default_rng([seed, family_index, number]), family, number)
    mnist = page_benchmark._MNIST
    page = make_page(replace(spec, separators=True), mnist.x_test, mnist.y_test)
    name = f"{family}_{number:03d}" + (".jpg" if spec.jpeg_quality else ".png")
    write_page(page, folder / name, jpeg_quality=spec.jpeg_quality or 95)
    return name, page.lines


def build_pages(cache: Path, per_family: int, seed: int) -> tuple[Path, dict[str, list[str]]]:
    """The page set (written once, in a folder named by the generator's source,
    ``benchmarks.pages.set_folder``) and each file's truth lines."""
    folder = set_folder(cache, per_family, seed)
    truth_file = folder / TRUTH_NAME
    if truth_file.exists():
        return folder, json.loads(truth_file.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    jobs = [(folder, seed, f, n) for f in range(len(FAMILIES)) for n in range(per_family)]
    with Pool(WORKERS, initializer=page_benchmark._load_digits) as pool:
        truth = dict(pool.imap(_render, jobs))
    truth_file.write_text(json.dumps(truth, indent=1))
    return folder, truth


def best_tesseract(folder: Path, truth: dict[str, list[str]]) -> tuple[int, dict[str, list[str]]]:
    """Every page in every mode (``benchmarks.pages.run_tesseract``, digits, separators and
    the space whitelisted); the mode with the lowest character error over the set."""
    read, _, _ = run_tesseract(folder, list(truth), WHITELIST)
    cer = {psm: scores(truth, read[psm])[0].cer for psm in TESSERACT_PSMS}
    best = min(TESSERACT_PSMS, key=lambda psm: (cer[psm], psm))
    return best, read[best]


def scores(truth: dict[str, list[str]], read: dict[str, list[str]]
           ) -> tuple[Score, SeparatorScore]:
    """The set's scores: characters (separators counted), digits and lines; separators."""
    separators = SeparatorScore()
    for name, lines in truth.items():
        separators.add(read.get(name, []), lines)
    return total(page_scores(truth, read).values()), separators


def row(tool: str, score: Score, separators: SeparatorScore, rate: float) -> str:
    return (f"| {tool} | {score.pages} | {score.cer:.2%} | {score.digit_error_rate:.2%} | "
            f"{score.exact_line_rate:.1%} | {separators.recall:.1%} | "
            f"{separators.precision:.1%} | {rate:.2f} |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=8, help="pages per family")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--no-tesseract", action="store_true", help="score notes-ocr only")
    parser.add_argument("--json", type=Path, help="write the numbers to this JSON file")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    folder, truth = build_pages(args.cache, args.pages, args.seed)
    true_separators = sum(c in SEPARATORS for lines in truth.values() for c in "".join(lines))
    print(f"{len(truth)} pages, {sum(map(len, truth.values()))} lines, "
          f"{true_separators} separators: {folder}\n")
    print("| tool | pages | CER, separators counted | digit error | exact lines | "
          "separator recall | separator precision | pages/s |")
    print("|---|---|---|---|---|---|---|---|")
    ours, seconds = run_notes_ocr(folder)
    score, separators = scores(truth, ours)
    print(row("notes-ocr", score, separators, len(truth) / seconds), flush=True)
    numbers = {"notes-ocr": {"cer": score.cer, "digit_error": score.digit_error_rate,
                             "exact_lines": score.exact_line_rate,
                             "separator_recall": separators.recall,
                             "separator_precision": separators.precision}}
    if not args.no_tesseract:
        if shutil.which("tesseract") is None:
            print(f"\nTesseract is not installed ({INSTALL_TESSERACT}): left out")
        else:
            started = time.perf_counter()
            psm, theirs = best_tesseract(folder, truth)
            rate = len(truth) * len(TESSERACT_PSMS) / (time.perf_counter() - started)
            score, separators = scores(truth, theirs)
            print(row(f"Tesseract {tesseract_version()} (psm {psm})", score, separators,
                      rate))
            numbers["tesseract"] = {"psm": psm, "cer": score.cer,
                                    "digit_error": score.digit_error_rate,
                                    "separator_recall": separators.recall,
                                    "separator_precision": separators.precision}
    print(f"\nnotes-ocr: one `notes-ocr scan --format jsonl FOLDER`, start-up included; "
          f"Tesseract: {WORKERS} pages at a time, all its modes. "
          f"Benchmark run time: {time.perf_counter() - began:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(numbers, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())

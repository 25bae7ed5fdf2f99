"""Where the page benchmark's errors are: each digit of the truth matched to what was read
at its place.

    python -m benchmarks.errors [--pages 20] [--seed 2024] [--model DIR] [--engine keras]

The page benchmark says how many lines are wrong; this says why. The pages are the page
benchmark's (same sets, same cache, ``--seed 7 --pages 40`` for the held-out one), read
in-process with ``Scanner``, and each digit read is given to the digit of the truth whose
box it overlaps most. Each digit of the truth is then:

- right or misread: one digit read at its place, the right one or not;
- split: two or more digits read at its place (a broken digit read as two);
- lost: nothing read at its place.

A digit read right or wrong is also "merged" when the box read takes in the middle of a
neighbour of the truth, and a lost digit is "merged" when some box read does: two digits
read as one. A wrong line is put down to the kinds of error its digits have; the lines
with one kind only show what fixing that kind alone would gain.
"""

from __future__ import annotations

import argparse
import time
from multiprocessing import Pool
from pathlib import Path

from benchmarks.pages import CACHE, FAMILIES, WORKERS, build_pages, set_folder, truth_boxes
from notes_ocr.recognizer import ENGINES
from notes_ocr.testing.breakdown import analyse, format_report
from notes_ocr.testing.synth import Box

_SCANNER = None


def _start(model: str | None, engine: str) -> None:
    global _SCANNER
    from notes_ocr.pipeline import Scanner
    from notes_ocr.recognizer import Recognizer

    _SCANNER = Scanner(Recognizer.load(model, engine=engine))


def _read(path: Path) -> tuple[str, list[str], list[tuple[str, Box]]]:
    """One page's lines and every digit read on it, as (character, box)."""
    from notes_ocr.sources import iter_pages

    page = _SCANNER.read_page(next(iter(iter_pages([path]))))
    digits = [(c.char, c.box) for line in page.lines for c in line.chars]
    return path.name, [line.text for line in page.lines], digits


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=20, help="pages per family")
    parser.add_argument("--seed", type=int, default=2024, help="seed of the page set")
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--model", help="model folder, .npz or .keras (default: the shipped model)")
    parser.add_argument("--engine", choices=ENGINES, default="numpy",
                        help="keras: run the .keras model itself (any Keras model from 784 "
                        "pixels to 10 or 11 outputs)")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    folder = set_folder(args.cache, args.pages, args.seed)
    truth = build_pages(folder, args.pages, args.seed)
    boxes = truth_boxes(folder)
    with Pool(WORKERS, initializer=_start, initargs=(args.model, args.engine)) as pool:
        read = {name: (lines, digits) for name, lines, digits in
                pool.imap(_read, [folder / name for name in sorted(truth)], chunksize=4)}
    print(format_report(analyse(truth, boxes, read)))
    print("wrong lines by family, by the one kind of error in them:")
    for family in FAMILIES:
        family_truth = {n: lines for n, lines in truth.items() if n.startswith(family + "_")}
        report = analyse(family_truth, boxes, read)
        kinds = ", ".join(f"{kind} {n}" for kind, n in report.only.most_common())
        print(f"  {family}: {report.wrong_lines} of {report.lines} ({kinds})")
    print(f"benchmark run time: {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()

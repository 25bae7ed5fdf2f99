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
from collections import Counter
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path

import numpy as np

from benchmarks.pages import CACHE, FAMILIES, WORKERS, build_pages, set_folder, truth_boxes
from notes_ocr.recognizer import ENGINES
from notes_ocr.testing.synth import Box

# A digit read goes to the truth digit it overlaps most, if that covers this share of it;
# else it was read where nothing is written (a mark read as a digit).
MIN_OVERLAP = 0.3


@dataclass(frozen=True)
class Outcome:
    """What became of one digit of the truth."""

    line: int  # index of its line in the truth
    label: int
    kind: str  # "right", "misread", "split" or "lost"
    merged: bool  # read together with a neighbour as one digit
    read: str  # the digits read at its place, left to right


def match_page(
    truth: list[str], boxes: list[list[Box]], read: list[tuple[str, Box]]
) -> tuple[list[Outcome], int]:
    """The outcome of each digit of a page's truth, and how many digits were read elsewhere.

    ``truth`` are the page's lines, ``boxes`` each digit's box line by line, ``read`` every
    digit read as (character, box), boxes as (x, y, w, h) in the same pixels.
    """
    labels = [(line, int(char)) for line, text in enumerate(truth) for char in text if char != " "]
    true_boxes = np.array([box for line in boxes for box in line], float).reshape(-1, 4)
    centres = true_boxes[:, :2] + true_boxes[:, 2:] / 2
    owner, covered = [], []  # per digit read: its truth digit (or -1), the centres it covers
    for _, (x, y, w, h) in read:
        across = np.minimum(x + w, true_boxes[:, 0] + true_boxes[:, 2]) - np.maximum(
            x, true_boxes[:, 0])
        down = np.minimum(y + h, true_boxes[:, 1] + true_boxes[:, 3]) - np.maximum(
            y, true_boxes[:, 1])
        overlap = np.clip(across, 0, None) * np.clip(down, 0, None)
        best = int(overlap.argmax()) if len(overlap) else -1
        owner.append(best if best >= 0 and overlap[best] > MIN_OVERLAP * w * h else -1)
        inside = ((centres[:, 0] >= x) & (centres[:, 0] < x + w)
                  & (centres[:, 1] >= y) & (centres[:, 1] < y + h))  # fmt: skip
        covered.append(set(np.flatnonzero(inside).tolist()))
    outcomes = []
    for t, (line, label) in enumerate(labels):
        mine = [r for r, o in enumerate(owner) if o == t]
        text = "".join(read[r][0] for r in mine)
        if len(mine) >= 2:
            kind, merged = "split", False
        elif mine:
            kind = "right" if text == str(label) else "misread"
            merged = bool(covered[mine[0]] - {t})
        else:
            kind, merged = "lost", any(t in c for c in covered)
        outcomes.append(Outcome(line, label, kind, merged, text))
    return outcomes, owner.count(-1)


def describe(outcome: Outcome) -> str:
    """The outcome's kind, with "merged" where it was read together with a neighbour."""
    return outcome.kind + (", merged" if outcome.merged else "")


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
    digits = [(d.char, d.box) for line in page.lines for d in line.digits]
    return path.name, [line.text for line in page.lines], digits


@dataclass
class Report:
    outcomes: Counter  # describe(outcome) -> digits
    confusions: Counter  # (true, read) -> digits misread, not merged
    lost: Counter  # true label -> digits lost
    elsewhere: int  # digits read where no digit is written
    lines: int
    wrong_lines: int  # lines not read exactly
    only: Counter  # the one kind of error of a wrong line -> lines; "other": none matched


def analyse(
    truth: dict[str, list[str]],
    boxes: dict[str, list[list[Box]]],
    read: dict[str, tuple[list[str], list[tuple[str, Box]]]],
) -> Report:
    report = Report(Counter(), Counter(), Counter(), 0, 0, 0, Counter())
    for name, lines in truth.items():
        read_lines, digits = read[name]
        outcomes, elsewhere = match_page(lines, boxes[name], digits)
        report.elsewhere += elsewhere
        report.outcomes.update(describe(o) for o in outcomes)
        report.confusions.update(
            (o.label, o.read) for o in outcomes if o.kind == "misread" and not o.merged)
        report.lost.update(o.label for o in outcomes if o.kind == "lost")
        unmatched = list(read_lines)  # a line counts as read right as in `Score.add`
        for index, line in enumerate(lines):
            report.lines += 1
            if line in unmatched:
                unmatched.remove(line)
                continue
            report.wrong_lines += 1
            kinds = {describe(o) for o in outcomes if o.line == index and o.kind != "right"}
            report.only[kinds.pop() if len(kinds) == 1 else "several" if kinds else "other"] += 1
    return report


def format_report(report: Report) -> str:
    digits = sum(report.outcomes.values())
    out = [f"{digits} digits of the truth:"]
    out += [f"  {kind}: {n} ({n / digits:.2%})" for kind, n in report.outcomes.most_common()]
    out.append(f"  read where no digit is written: {report.elsewhere}")
    pairs = ", ".join(f"{t}->{r} {n}" for (t, r), n in report.confusions.most_common(12))
    out.append(f"misread (true->read), most common: {pairs}")
    out.append("lost, by true digit: " + ", ".join(
        f"{label} {n}" for label, n in sorted(report.lost.items())))
    out.append(
        f"{report.wrong_lines} of {report.lines} lines not read exactly "
        f"({1 - report.wrong_lines / max(report.lines, 1):.1%} exact); by the one kind of error "
        "in them (\"several\": more than one kind, \"other\": only digits read elsewhere or "
        "groups spaced wrong):")
    out += [f"  {kind}: {n}" for kind, n in report.only.most_common()]
    return "\n".join(out)


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

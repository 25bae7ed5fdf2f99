"""What became of each digit written on a page: matched by place to the digits read (right,
misread, split, lost, merged), and a page set's wrong lines put down to those kinds of
error. Used by ``benchmarks/errors.py`` and its tests."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

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

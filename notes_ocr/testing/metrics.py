"""Scores for recognised page text against the truth."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from notes_ocr.separators import SEPARATORS


def levenshtein(a: str, b: str) -> int:
    """Edit distance: insertions, deletions and substitutions, each costing one."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        previous = current
    return previous[-1]


def align(a: str, b: str) -> list[tuple[int | None, int | None]]:
    """A cheapest Levenshtein alignment of ``a`` and ``b``: pairs (i, j) of matched or
    substituted characters, (i, None) for a character of ``a`` only, (None, j) for one of
    ``b`` only, in order."""
    costs = np.zeros((len(a) + 1, len(b) + 1), np.int64)
    costs[:, 0] = np.arange(len(a) + 1)
    costs[0, :] = np.arange(len(b) + 1)
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            costs[i, j] = min(costs[i - 1, j] + 1, costs[i, j - 1] + 1,
                              costs[i - 1, j - 1] + (a[i - 1] != b[j - 1]))
    pairs: list[tuple[int | None, int | None]] = []
    i, j = len(a), len(b)
    while i or j:
        if i and j and costs[i, j] == costs[i - 1, j - 1] + (a[i - 1] != b[j - 1]):
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif i and costs[i, j] == costs[i - 1, j] + 1:
            pairs.append((i - 1, None))
            i -= 1
        else:
            pairs.append((None, j - 1))
            j -= 1
    return pairs[::-1]


@dataclass
class Score:
    """Error counts summed over pages; the rates are over the truth's length."""

    char_errors: int = 0
    chars: int = 0
    digit_errors: int = 0
    digits: int = 0
    lines_exact: int = 0
    lines: int = 0
    pages_exact: int = 0
    pages: int = 0

    def add(self, predicted: list[str], truth: list[str]) -> None:
        text, true_text = "\n".join(predicted), "\n".join(truth)
        self.char_errors += levenshtein(text, true_text)
        self.chars += len(true_text)
        only_digits = "".join(c for c in text if c.isdigit() or c == "?")
        true_digits = "".join(c for c in true_text if c.isdigit())
        self.digit_errors += levenshtein(only_digits, true_digits)
        self.digits += len(true_digits)
        predicted_set = list(predicted)
        for line in truth:
            if line in predicted_set:
                predicted_set.remove(line)
                self.lines_exact += 1
        self.lines += len(truth)
        self.pages_exact += text == true_text
        self.pages += 1

    @property
    def cer(self) -> float:
        return self.char_errors / max(self.chars, 1)

    @property
    def digit_error_rate(self) -> float:
        return self.digit_errors / max(self.digits, 1)

    @property
    def exact_line_rate(self) -> float:
        return self.lines_exact / max(self.lines, 1)

    @property
    def exact_page_rate(self) -> float:
        return self.pages_exact / max(self.pages, 1)


def total(scores: Iterable[Score]) -> Score:
    """The sum of page scores."""
    scores = list(scores)
    fields = [f.name for f in dataclasses.fields(Score)]
    return Score(**{f: sum(getattr(s, f) for s in scores) for f in fields})


@dataclass
class SeparatorScore:
    """How the separators inside numbers were read, summed over pages: those read where
    the truth has the same one (Levenshtein alignment of each page's text, lines joined),
    and how many the truth and the reading hold."""

    matched: int = 0
    true: int = 0
    read: int = 0

    def add(self, predicted: list[str], truth: list[str]) -> None:
        text, true_text = "\n".join(predicted), "\n".join(truth)
        self.true += sum(c in SEPARATORS for c in true_text)
        self.read += sum(c in SEPARATORS for c in text)
        self.matched += sum(
            1 for i, j in align(text, true_text)
            if i is not None and j is not None and text[i] == true_text[j] in SEPARATORS
        )

    @property
    def recall(self) -> float:
        return self.matched / max(self.true, 1)

    @property
    def precision(self) -> float:
        """The share of separators read that are right; 1 when none were read."""
        return self.matched / self.read if self.read else 1.0

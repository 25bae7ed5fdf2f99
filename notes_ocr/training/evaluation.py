"""How a model does on MNIST's test set: accuracy, confusion matrix, held-out negatives."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from notes_ocr.mnist import Mnist, load_mnist
from notes_ocr.recognizer import (
    N_DIGITS,
    Recognizer,
)
from notes_ocr.training.negatives import NEGATIVE_KINDS

if TYPE_CHECKING:
    pass

@dataclass
class EvalResult:
    # Share of test digits whose likeliest output, NOT_DIGIT included, is the true digit.
    accuracy: float
    # (10, n_outputs) int64 counts, row = true digit, column = likeliest output: 10 digit
    # columns, and a NOT_DIGIT column for a model that has one.
    confusion: np.ndarray

    @property
    def rejected(self) -> int:
        """How many test digits the model took for not a digit."""
        return int(self.confusion[:, N_DIGITS:].sum())


def evaluate(
    model_path: str | Path | None = None,
    mnist_path: str | Path | None = None,
    engine: str = "keras",
    *,
    mnist: Mnist | None = None,
) -> EvalResult:
    """Accuracy and confusion matrix of a model on the MNIST test set.

    The prediction is the likeliest of all outputs, so a digit taken for NOT_DIGIT counts
    as wrong. ``model_path`` None is the shipped model; ``mnist`` an already loaded `Mnist`
    (it saves reading the file again).
    """
    recognizer = Recognizer.load(model_path, engine=engine)
    data = mnist if mnist is not None else load_mnist(mnist_path)
    truth = data.y_test.astype(np.int64)
    predicted = recognizer.predict_proba(data.x_test).argmax(axis=1)
    n_outputs = recognizer.n_outputs
    confusion = np.bincount(truth * n_outputs + predicted, minlength=N_DIGITS * n_outputs).reshape(
        N_DIGITS, n_outputs
    )
    accuracy = float(np.trace(confusion) / max(1, confusion.sum()))
    return EvalResult(accuracy=accuracy, confusion=confusion)


# Seed of the held-out negatives `rejection_rates` makes: fixed, so runs compare.
HELD_OUT_SEED = 20_000


def rejection_rates(
    model_path: str | Path | None = None,
    mnist_path: str | Path | None = None,
    engine: str = "numpy",
    *,
    mnist: Mnist | None = None,
    per_kind: int = 2000,
    seed: int = HELD_OUT_SEED,
) -> dict[str, float]:
    """Share of held-out blobs a model reads as NOT_DIGIT (P(NOT_DIGIT) > 0.5), by kind.

    One entry per negative kind (`NEGATIVE_KINDS`), ``per_kind`` of each made from the MNIST
    test digits, which training never sees; and "digits": the test digits themselves, where
    every rejection is a mistake. A 10-output model rejects nothing.
    """
    recognizer = Recognizer.load(model_path, engine=engine)
    data = mnist if mnist is not None else load_mnist(mnist_path)
    rng = np.random.default_rng(seed)
    rates: dict[str, float] = {}
    for kind, make in NEGATIVE_KINDS.items():
        blobs = make(data.x_test, data.y_test, per_kind, rng)
        rates[kind] = float((recognizer.digit_probability(blobs) < 0.5).mean())
    rates["digits"] = float((recognizer.digit_probability(data.x_test) < 0.5).mean())
    return rates


def format_confusion(confusion: np.ndarray) -> str:
    """A confusion matrix as a text table: rows are true digits, columns predictions.

    An 11th column, headed "not", counts the digits taken for NOT_DIGIT. The last column
    is each digit's recall, so the weak digits stand out.
    """
    confusion = np.asarray(confusion)
    width = max(4, len(str(int(confusion.max(initial=0)))) + 1)
    names = [str(d) for d in range(len(confusion))] + ["not"] * (confusion.shape[1] > N_DIGITS)
    header = "true\\pred" + "".join(f"{name:>{width}}" for name in names) + "  recall"
    lines = [header, "-" * len(header)]
    for digit, row in enumerate(confusion):
        total = int(row.sum())
        recall = f"{row[digit] / total:8.4f}" if total else "       -"
        cells = "".join(f"{int(n):>{width}}" for n in row)
        lines.append(f"{digit:>9}{cells}{recall}")
    return "\n".join(lines)

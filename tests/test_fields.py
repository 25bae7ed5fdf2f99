"""Cropped fields read like pages: digits filling the crop, patterned paper, printed lines,
black scan borders. The fields are drawn here from MNIST test digits."""

import cv2
import numpy as np
import pytest
from conftest import pen_digit

from notes_ocr import Recognizer, scan
from notes_ocr.normalize import normalize_blob

INK = 40  # grey of the pen
PAPER = 235


@pytest.fixture(scope="module")
def plain_digits(mnist) -> dict[int, list[np.ndarray]]:
    """Per digit, MNIST test images that the shipped model reads right at 0.99 or more,
    redrawn as pen strokes (as these tests draw them) and cut out alone: these tests are
    about finding digits, not about the odd writers MNIST has."""
    images, truth = mnist.x_test[:2000], mnist.y_test[:2000]
    drawn = np.stack([normalize_blob(pen_digit(image, 40)) for image in images])
    labels, confidences = Recognizer.load().classify(drawn)
    sure = (labels == truth) & (confidences >= 0.99)
    return {d: [images[i] for i in np.flatnonzero(sure & (truth == d))] for d in range(10)}


def pick(digits: dict[int, list[np.ndarray]], text: str, start: int = 0) -> list[np.ndarray]:
    """Images of the digits of ``text``, each a different instance."""
    return [digits[int(c)][start + i] for i, c in enumerate(text)]


def field(digits, text: str, height: int, fill: float, seed: int = 0, pattern: bool = False,
          baseline: bool = False, tint: int = PAPER) -> np.ndarray:
    """A grey crop of ``text`` written with digits ``fill`` of its ``height`` tall, a
    little apart, from edge to edge (the first and last digits touch the crop's sides, the
    tallest its top and bottom when ``fill`` is near 1); on a wavy printed pattern and over
    a printed baseline when asked."""
    rng = np.random.default_rng(seed)
    digit_height = max(8, round(fill * height))
    inks = [pen_digit(image, digit_height) for image in pick(digits, text, seed)]
    gap = max(2, digit_height // 6)
    width = sum(ink.shape[1] for ink in inks) + gap * (len(inks) - 1)
    page = np.full((height, width), tint, np.float32)
    if pattern:
        ys, xs = np.mgrid[:height, :width].astype(np.float32)
        waves = np.sin((ys + 6 * np.sin(xs / 23.0)) * 2 * np.pi / max(4.0, height / 9))
        page -= 38 * (waves > 0.75)
    if baseline:
        row = min(height - 2, (height + digit_height) // 2 + 1)
        page[row : row + max(1, height // 40)] = 90
    top = (height - digit_height) // 2
    x = 0
    for ink in inks:
        h, w = ink.shape
        y = int(np.clip(top + rng.integers(-2, 3), 0, height - h))
        page[y : y + h, x : x + w][ink] = INK
        x += w + gap
    return np.clip(cv2.GaussianBlur(page, (3, 3), 0), 0, 255).astype(np.uint8)


def read(image: np.ndarray) -> str:
    (page,) = scan(image)
    return " | ".join(line.text for line in page.lines)


@pytest.mark.parametrize(("height", "fill"), [(40, 0.95), (60, 0.6), (120, 0.3), (150, 0.8)])
def test_a_field_of_digits_from_edge_to_edge_reads_like_a_page(plain_digits, height, fill):
    assert read(field(plain_digits, "40713", height, fill)) == "40713"


def test_patterned_paper_and_a_printed_baseline_are_not_ink(plain_digits):
    assert read(field(plain_digits, "3609", 64, 0.75, pattern=True, baseline=True)) == "3609"
    # Coloured paper (a tinted cheque) too.
    assert read(field(plain_digits, "3609", 64, 0.75, pattern=True, tint=190)) == "3609"


def register_cell(digits, text: str, border: int = 45) -> np.ndarray:
    """A cell cut from a scanned register: a black scan border at the left, the table's
    double rule beside it and a rule along the top, and a row number written small in the
    middle."""
    height, width = 200, 150
    cell = np.full((height, width), 225, np.float32)
    cell[:, :border] = 18
    cell[:, border + 6 : border + 8] = 110
    cell[:, border + 11 : border + 13] = 110
    cell[:, width - 5 : width - 3] = 120
    cell[8:10, border:] = 120
    inks = [pen_digit(image, 32) for image in pick(digits, text)]
    x = border + 13 + (width - border - 13 - sum(ink.shape[1] + 5 for ink in inks)) // 2
    for ink in inks:
        h, w = ink.shape
        cell[85 : 85 + h, x : x + w][ink] = 60
        x += w + 5
    noise = np.random.default_rng(3).normal(0, 4, cell.shape)
    return np.clip(cv2.GaussianBlur(cell, (3, 3), 0) + noise, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("text", ["7", "46", "128"])
def test_a_register_cell_reads_its_number_not_its_borders_and_rules(plain_digits, text):
    assert read(register_cell(plain_digits, text)) == text


def test_an_empty_register_cell_reads_nothing(plain_digits):
    cell = register_cell(plain_digits, "")
    assert read(cell) == ""


def test_the_dark_slivers_a_crop_leaves_along_its_edges_are_not_read(plain_digits):
    # A note cropped by hand or by a tool keeps a line of the desk or of the scanner's lid
    # along some edges: a 1 of its own if it were taken for ink.
    note = np.full((300, 460), 232, np.uint8)
    note[110:190, :3] = 40  # as tall as the digits, beside them
    note[:2, 60:140] = 60
    note[120:175, -4:] = 50
    written = field(plain_digits, "2581", 60, 0.8)
    note[120 : 120 + written.shape[0], 80 : 80 + written.shape[1]] = written
    assert read(note) == "2581"

"""scan(): a page image, top to bottom: segment, decode, normalise, classify, lay out."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from notes_ocr.decode import Proposal, apply_recuts, choose, propose, recut_rejected
from notes_ocr.errors import InputError
from notes_ocr.layout import lay_out, place_separators
from notes_ocr.recognizer import Recognizer
from notes_ocr.results import (
    Box,
    Char,
    Line,
    Page,
    failed_page,
    make_line,
)
from notes_ocr.segment import on_page, segment_page
from notes_ocr.sources import (
    MAX_PIXELS,
    PageImage,
    UnreadableSource,
    check_pixels,
    iter_pages,
    to_grey,
)

# Stands in for a digit read with less than the minimum confidence, so the line keeps its shape.
UNSURE = "?"
# A row of writing whose digits the classifier reads with less confidence than this, on
# average, is a row of marks (see Scanner.finish_lines).
ROW_CONFIDENCE = 0.6


@dataclass(frozen=True)
class PreparedPage:
    """A page segmented into candidate digits, waiting for the classifier.

    Plain arrays only: pages are prepared in worker processes and their candidates
    classified together in the main one (see batch.py).
    """

    source: str
    page: int
    width: int
    height: int
    proposal: Proposal
    to_work: np.ndarray  # 3x3 homography: original page -> working page

    @property
    def images(self) -> np.ndarray:
        """The candidates as (C, 28, 28) uint8 MNIST-style images."""
        return self.proposal.images


def prepare(page: PageImage) -> PreparedPage:
    """Segment one page and list its candidate digits: everything before the classifier."""
    height, width = page.image.shape
    segmentation = segment_page(page.image)
    proposal = propose(segmentation.pieces, segmentation.digit_height)
    return PreparedPage(page.source, page.page, width, height, proposal, segmentation.to_work)


class Scanner:
    """Reads the digit lines of pages with one loaded recogniser."""

    def __init__(
        self,
        recognizer: Recognizer | None = None,
        min_confidence: float = 0.0,
        max_pixels: int | None = MAX_PIXELS,
        digits_only: bool = False,
    ) -> None:
        """``min_confidence``: digits and separators read less surely are written ``?``.
        ``max_pixels``: larger pages are refused (ImageTooLarge) before they are decoded;
        None for no limit. ``digits_only``: lines hold digits and spaces alone, no
        separators."""
        self.recognizer = recognizer if recognizer is not None else Recognizer.load()
        self.min_confidence = min_confidence
        self.max_pixels = max_pixels
        self.digits_only = digits_only

    def finish_lines(self, prepared: PreparedPage, probabilities: np.ndarray) -> list[Line]:
        """A prepared page's lines, given the classifier's output for its candidates."""
        proposal = prepared.proposal
        labels, confidences, whole = self.recognizer.interpret(probabilities)
        reading = choose(proposal, labels, confidences)
        chosen = reading.digits
        if chosen.size == 0:
            return []
        chosen_confidences = confidences[chosen]
        labels, confidences, boxes = labels[chosen], chosen_confidences, proposal.boxes[chosen]
        origin = np.arange(len(chosen))  # the chosen digit each digit read comes from
        recut = recut_rejected(proposal, chosen, whole)
        if len(recut.which):
            halves = self.recognizer.predict_proba(recut.images)
            labels, confidences, boxes, origin = apply_recuts(
                (labels, confidences, boxes), recut, *self.recognizer.interpret(halves)[:2])
        if self.digits_only:
            separators, after = np.zeros(0, int), np.zeros(0, int)
        else:
            # A separator read after the n-th chosen digit follows the digits read from the
            # first n (``origin`` rises: a digit cut in two gives two in its place).
            separators, after = reading.separators, np.searchsorted(origin, reading.after)
        separator_boxes = proposal.separator_boxes[separators]
        chars = [
            Char(char if confidence >= self.min_confidence else UNSURE, float(confidence), box)
            for char, confidence, box in zip(
                [*(str(int(label)) for label in labels),
                 *(str(char) for char in proposal.separator_char[separators])],
                [*confidences, *proposal.separator_confidence[separators]],
                to_page_boxes(np.vstack([boxes, separator_boxes]), prepared.to_work,
                              (prepared.height, prepared.width)),
                strict=True)
        ]
        lines, rows = lay_out(boxes)
        # A row whose digits the classifier reads at less than ROW_CONFIDENCE on the whole
        # is a row of marks (ticks, arrows, a scribble) cut into digit-like pieces: drop it.
        # Inside a row of digits a doubtful blob stays, since it is more likely two
        # touching digits than a mark. (A digit's confidence is at most its probability of
        # being a digit at all, so this also drops what the classifier takes for no digit.)
        # Each digit counts with the confidence in the blob it was read from: a cross or a
        # tick cut in two reads as two fair digits, and must not save a row of marks. The
        # row is judged whole, though wide gaps cut it into lines: a tick alone reads as a
        # sure 1.
        row_of_digit = np.empty(len(labels), int)
        for line, row in zip(lines, rows, strict=True):
            row_of_digit[[i for group in line for i in group]] = row
        blob_confidences = chosen_confidences[origin]
        kept = {row for row in set(rows)
                if blob_confidences[row_of_digit == row].mean() >= ROW_CONFIDENCE}
        lines = place_separators(boxes, lines, separator_boxes, after)
        return [make_line([[chars[i] for i in group] for group in line])
                for line, row in zip(lines, rows, strict=True) if row in kept]

    def finish(self, prepared: PreparedPage, probabilities: np.ndarray) -> Page:
        """The record of a prepared page, given the classifier's output for its candidates."""
        lines = self.finish_lines(prepared, probabilities)
        return Page(prepared.source, prepared.page, prepared.width, prepared.height, lines)

    def read_page(self, page: PageImage) -> Page:
        """One page's record; an unexpected failure becomes the record's error, not a crash."""
        try:
            prepared = prepare(page)
            return self.finish(prepared, self.recognizer.predict_proba(prepared.images))
        except Exception as exc:  # one bad page must never stop a batch
            return failed_page(page.source, page.page, exc, page.image.shape)

    def scan_paths(self, paths: Iterable[str | os.PathLike]) -> Iterator[Page]:
        """Records for every page of every file, in order, as each page is done."""
        for item in iter_pages(paths, self.max_pixels):
            if isinstance(item, UnreadableSource):
                yield failed_page(item.source, item.page, item.error)
            else:
                yield self.read_page(item)

    def scan_array(self, image: np.ndarray, source: str = "<array>") -> Page:
        """The record of one page given as an image array (grey, BGR or BGRA).

        Raises InputError for what is not such an image (other shapes, empty, complex or
        object pixels), ImageTooLarge for one over the pixel limit.
        """
        shape = np.shape(image) if isinstance(image, np.ndarray) else ()
        if len(shape) >= 2:
            check_pixels(Path(source), 1, (shape[1], shape[0]), self.max_pixels)
        grey = to_grey(image)
        return self.read_page(PageImage(source, 1, grey))


def to_page_boxes(boxes: np.ndarray, to_work: np.ndarray, shape: tuple[int, int]) -> list[Box]:
    """(N, 4) boxes on the working page -> boxes on the original page (clipped to it).

    ``to_work`` is the homography from the original page to the working one.
    """
    if len(boxes) == 0:
        return []
    height, width = shape
    left, top, right, bottom = on_page(boxes, to_work)
    x0 = np.clip(np.floor(left), 0, width).astype(int)
    y0 = np.clip(np.floor(top), 0, height).astype(int)
    x1 = np.clip(np.ceil(right), 0, width).astype(int)
    y1 = np.clip(np.ceil(bottom), 0, height).astype(int)
    return [(int(a), int(b), int(c - a), int(d - b)) for a, b, c, d in zip(x0, y0, x1, y1,
                                                                           strict=True)]


def scan(
    source: str | os.PathLike | np.ndarray,
    recognizer: Recognizer | None = None,
    min_confidence: float = 0.0,
    max_pixels: int | None = MAX_PIXELS,
    digits_only: bool = False,
) -> list[Page]:
    """Read the digit lines of an image file, a folder of them, or an image array.

    A folder is walked recursively in sorted order. A file that cannot be read gives a
    ``Page`` whose ``error`` says why, so one bad file never stops a folder; a path that
    does not exist at all raises InputError, and so does an array that is not an image.
    Lines keep the separators written inside numbers (``12/05/2019 10:30``) unless
    ``digits_only``. Digits and separators read with less than ``min_confidence`` come
    out as ``?``. A page of more than
    ``max_pixels`` pixels (None: no limit) is refused from its header, before it is
    decoded (its record's error is ImageTooLarge; for an array, it is raised).

    Pages are read here, in this process, one at a time: there is no time limit on a page
    (``notes-ocr scan`` and ``batch.BatchScanner`` with ``page_timeout`` read them in
    worker processes that can be stopped).
    """
    scanner = Scanner(recognizer, min_confidence, max_pixels, digits_only)
    if isinstance(source, np.ndarray):
        return [scanner.scan_array(source)]
    if not Path(source).exists():
        raise InputError(f"{source}: no such file or folder")
    return list(scanner.scan_paths([source]))

"""Separators inside numbers (``/ - . , :``), told by their size and place in the line.

MNIST normalisation blows every blob up to the same size, which erases what a separator
is: a dot sits on the baseline, a comma is a dot with a tail below it, a dash is short and
at mid-height, a colon is two dots stacked, a slash leans and is about as tall as the
digits. So a separator is judged here by its shape measured against its neighbouring
digits, the ``band`` they span. Each test is a ramp from 1 (as written by most hands) to 0
(no such separator), and a piece's confidence that it is a separator is its weakest test:
one impossible measure rules a separator out. The decoder weighs that against reading the
piece as (part of) a digit or leaving it out as a stray mark.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from notes_ocr.segment import Blob, join

SEPARATORS = "/-.,:"
# Those that may end a number (``12.``, ``5,-``); the others stand between two digits.
TRAILING = ".,-"
# Those that may touch a digit's ink (see ``line_separators``).
TOUCHING = "-:"
# Neighbouring digits are pieces at least this many line heights tall (and at most
# TALLEST): a separator is told by the digits either side of it.
TALL = 0.6
TALLEST = 1.6
# A separator stands at most this many line heights from the digit before it (and,
# for those that sit inside a number, after it).
NEAR = 1.0
# A slash leans at least this far from upright (degrees; fully at SLASH_LEAN) more than
# the writer's own upright strokes do; past MAX_SLASH_LEAN it is a dash's or an underline's.
MIN_SLASH_LEAN = 8.0
SLASH_LEAN = 16.0
MAX_SLASH_LEAN = 65.0
# Slashes come in pairs in dates (12/05/2019): two strokes one or two digits apart (a gap
# of PAIR_GAP[0] to PAIR_GAP[1] line heights) that lean beyond the writer's by DATE_LEAN
# (from MIN_DATE_LEAN up) are as sure to be slashes as one stroke leaning SLASH_LEAN. The
# decoder keeps them only where the digits around them make a date.
MIN_DATE_LEAN = 0.0
DATE_LEAN = 8.0
PAIR_GAP = (0.3, 3.0)


@dataclass(frozen=True)
class Band:
    """The rows the neighbouring digits of a piece span on the working page, px."""

    top: float
    bottom: float
    before: bool  # a digit stands just before the piece
    after: bool  # ... and just after it

    @property
    def height(self) -> float:
        return self.bottom - self.top


def ramp(value: float, zero: float, one: float) -> float:
    """0 at ``zero``, 1 at ``one``, linear in between and flat beyond (either order)."""
    if one == zero:
        return float(value >= one)
    # Plain floats: a page asks for tens of thousands of these (np.clip is 10 times slower).
    return min(max((float(value) - zero) / (one - zero), 0.0), 1.0)


def within(value: float, low_zero: float, low_one: float, high_one: float,
           high_zero: float) -> float:
    """1 between ``low_one`` and ``high_one``, falling to 0 at ``low_zero`` and ``high_zero``."""
    return min(ramp(value, low_zero, low_one), ramp(value, high_zero, high_one))


def band_of(line: list[Blob], first: int, last: int, height: float,
            extents: dict[int, tuple[int, int]]) -> Band | None:
    """The band of the nearest tall pieces either side of ``line[first:last]`` within NEAR
    line heights (None when there is none on either side). ``extents``: the top and
    bottom row of each blob the line's pieces were cut from, by their ``source``: a
    neighbour cut out of a larger blob stands for the whole blob, since a digit's edge cut
    off its body is not as tall as the digit."""
    x0 = min(piece.x for piece in line[first:last])
    x1 = max(piece.x + piece.w for piece in line[first:last])
    near = NEAR * height

    def tall(blob: Blob) -> bool:
        top, bottom = extents[blob.source]
        return TALL * height <= bottom - top <= TALLEST * height

    left = right = None
    for other in reversed(line[:first]):
        if other.x + other.w < x0 - near:
            break
        if tall(other) and other.x < x0:
            left = other
            break
    for other in line[last:]:
        if other.x > x1 + near:
            break
        if tall(other) and other.x + other.w > x1:
            right = other
            break
    neighbours = [extents[blob.source] for blob in (left, right) if blob is not None]
    if not neighbours:
        return None
    top, bottom = (float(np.mean(rows)) for rows in zip(*neighbours, strict=True))
    return Band(top, bottom, left is not None, right is not None)


def blob_extents(line: list[Blob]) -> dict[int, tuple[int, int]]:
    """The top and bottom row of each blob a line's pieces were cut from, by ``source``."""
    extents: dict[int, tuple[int, int]] = {}
    for piece in line:
        top, bottom = extents.get(piece.source, (piece.y, piece.y + piece.h))
        extents[piece.source] = (min(top, piece.y), max(bottom, piece.y + piece.h))
    return extents


def signed_lean(mask: np.ndarray) -> tuple[float, float]:
    """How far the ink's main axis leans from upright (degrees, positive with its top to
    the right, as in ``/``), and how elongated the ink is (1 - minor / major axis)."""
    moments = cv2.moments(mask.astype(np.uint8), binaryImage=True)
    if moments["m00"] == 0:
        return 0.0, 0.0
    mu20, mu02, mu11 = moments["mu20"], moments["mu02"], moments["mu11"]
    axis = np.degrees(0.5 * np.arctan2(2 * mu11, mu20 - mu02))  # from the x axis, y down
    lean = 90.0 - abs(axis)
    spread = np.sqrt(4 * mu11**2 + (mu20 - mu02) ** 2)
    major, minor = mu20 + mu02 + spread, max(mu20 + mu02 - spread, 0.0)
    elongation = 1.0 - np.sqrt(minor / major) if major > 0 else 0.0
    # y grows downwards: an axis at a negative angle to the x axis rises to the right.
    return float(lean if axis < 0 else -lean), float(elongation)


def components_of(mask: np.ndarray) -> list[tuple[int, int, int, int]]:
    """The boxes (x, y, w, h) of a mask's connected parts, top to bottom."""
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    return sorted((tuple(int(v) for v in stats[i, :4]) for i in range(1, count)),
                  key=lambda box: box[1])


def dot_likeness(w: float, h: float, band: Band, pen: float) -> float:
    """How much a blob of w x h px is a dot's size and shape for digits of ``band`` written
    with strokes ``pen`` px wide: a dot is no narrower than the pen, a speck is."""
    size = band.height
    return min(ramp(max(w, h), 0.4 * size, 0.25 * size),
               ramp(min(w, h), 0.5 * pen, 0.8 * pen),
               within(w / max(h, 1.0), 0.3, 0.5, 2.0, 3.0))


def separator_of(blob: Blob, axis: tuple[float, float], band: Band, writer_lean: float,
                 pen: float) -> tuple[str, float]:
    """The separator ``blob`` most looks like and how sure that is (0-1).

    ``axis`` is its ink's ``signed_lean``; ``band`` its neighbouring digits' (``band_of``);
    ``writer_lean`` the lean of the line's upright strokes (degrees, as ``signed_lean``),
    which a slash leans beyond; ``pen`` the width of the line's strokes, px.
    """
    size = band.height
    if size <= 0:
        return "", 0.0
    top = (blob.y - band.top) / size  # 0 at the digits' top, 1 at their baseline
    bottom = (blob.y + blob.h - band.top) / size
    middle = (top + bottom) / 2
    parts = components_of(blob.mask)
    scores: dict[str, float] = {}
    if len(parts) == 1:
        scores["."] = min(dot_likeness(blob.w, blob.h, band, pen),
                          within(bottom, 0.65, 0.8, 1.15, 1.3))
        scores[","] = min(ramp(blob.w, 0.45 * size, 0.3 * size),
                          within(blob.h / max(blob.w, 1.0), 0.9, 1.3, 6.0, 8.0),
                          within(top, 0.45, 0.6, 1.05, 1.15),
                          within(bottom, 0.95, 1.1, 1.6, 1.8))
        scores["-"] = min(within(blob.w / max(blob.h, 1.0), 1.5, 2.5, 50.0, 60.0),
                          within(blob.w, 0.1 * size, 0.2 * size, 0.8 * size, 1.1 * size),
                          ramp(blob.h, 0.35 * size, 0.25 * size),  # one stroke's width
                          within(middle, 0.2, 0.3, 0.75, 0.85))
        scores["/"] = min(slash_shape(blob, axis, band),
                          ramp(axis[0] - writer_lean, MIN_SLASH_LEAN, SLASH_LEAN))
    elif len(parts) == 2:
        (ux, uy, uw, uh), (lx, ly, lw, lh) = parts
        upper_middle = (blob.y + uy + uh / 2 - band.top) / size
        lower_middle = (blob.y + ly + lh / 2 - band.top) / size
        overlap = min(ux + uw, lx + lw) - max(ux, lx)
        scores[":"] = min(dot_likeness(uw, uh, band, pen), dot_likeness(lw, lh, band, pen),
                          ramp(overlap / min(uw, lw), 0.0, 0.4),
                          within(lower_middle - upper_middle, 0.15, 0.25, 0.7, 0.85),
                          within(upper_middle, 0.0, 0.15, 0.55, 0.7),
                          within(lower_middle, 0.45, 0.6, 1.0, 1.15))
    if not scores:
        return "", 0.0
    char = max(scores, key=scores.get)
    inside = band.before and (band.after or char in TRAILING)
    return char, scores[char] if inside else 0.0


def slash_shape(blob: Blob, axis: tuple[float, float], band: Band) -> float:
    """How much ``blob`` is a slash's size, place and shape for digits of ``band``, however
    far it leans beyond the writer's upright strokes (``axis``: its ``signed_lean``)."""
    size = band.height
    lean, elongation = axis
    middle = (blob.y + blob.h / 2 - band.top) / size
    return min(within(blob.h, 0.5 * size, 0.7 * size, 1.4 * size, 1.7 * size),
               ramp(lean, 0.0, 5.0),
               ramp(lean, MAX_SLASH_LEAN, MAX_SLASH_LEAN - 10),
               ramp(elongation, 0.6, 0.75),
               within(middle, 0.2, 0.35, 0.7, 0.85))


@dataclass(frozen=True)
class SeparatorCandidate:
    """A run of a line's pieces that may be a separator."""

    first: int  # the run is pieces first to last - 1 of the line
    last: int
    char: str
    confidence: float
    blob: Blob  # the run's ink
    # A slash as sure as it is only as one of a date's pair (``with_date_slashes``): read
    # so only where the digits around it make a date.
    dated: bool = False


def line_separators(line: list[Blob], height: float, pen: float,
                    axes: list[tuple[float, float]] | None = None) -> list[SeparatorCandidate]:
    """Every piece of a line (left to right), and every two neighbouring short ones (a
    colon's dots, a dash cut in two), that could be a separator, with how sure that is;
    ``height`` is the line's digit height and ``pen`` its strokes' width, px; ``axes``
    each piece's ``signed_lean``, when the caller has them.

    Only a dash or a colon may touch a digit (segmentation then cuts it off, or in two): a
    dash runs across to its neighbours at mid-height, and two stacked dots are no piece
    of a digit. A lone dot or a slash cut off a digit may well be the end of its stroke.
    """
    if axes is None:
        axes = [signed_lean(piece.mask) for piece in line]
    # The lean of the line's digits: the median of its tall pieces' main axes, which a
    # writer's slant tilts alike.
    leans = [axis[0] for axis, piece in zip(axes, line, strict=True)
             if TALL * height <= piece.h <= TALLEST * height]
    writer_lean = float(np.median(leans)) if leans else 0.0
    extents = blob_extents(line)
    out = []
    date_slashes = []  # (piece, slash shape, lean beyond the writer's) of single strokes
    for first in range(len(line)):
        for last in range(first + 1, min(first + 3, len(line) + 1)):
            run = line[first:last]
            if last - first == 2 and max(piece.h for piece in run) >= TALL * height:
                break
            band = band_of(line, first, last, height, extents)
            if band is None or not band.before:  # a separator follows a digit
                continue
            if len(run) == 1:
                blob, axis = run[0], axes[first]
            else:
                blob = join(run[0], run[1])
                axis = signed_lean(blob.mask)
            char, confidence = separator_of(blob, axis, band, writer_lean, pen)
            touching = ((first > 0 and line[first - 1].source == run[0].source)
                        or (last < len(line) and line[last].source == run[-1].source)
                        or (len(run) == 2 and run[1].source == run[0].source))
            if confidence > 0 and (char in TOUCHING or not touching):
                out.append(SeparatorCandidate(first, last, char, confidence, blob))
            if len(run) == 1 and not touching and band.after and (
                    shape := slash_shape(blob, axis, band)) > 0:
                date_slashes.append((first, shape, axis[0] - writer_lean))
    return with_date_slashes(line, height, out, date_slashes)


def with_date_slashes(line: list[Blob], height: float, found: list[SeparatorCandidate],
                      strokes: list[tuple[int, float, float]]) -> list[SeparatorCandidate]:
    """``found`` with each slash of a date's pair as sure as the pair (see DATE_LEAN), and
    without the slashes that have no partner: a slash on its own is more likely a 1 that
    leans, and would only take its confidence away.

    ``strokes``: (piece, slash shape, lean beyond the writer's) of the line's single pieces
    between digits.
    """
    pair_confidence: dict[int, float] = {}
    for a, (i, shape_i, beyond_i) in enumerate(strokes):
        for j, shape_j, beyond_j in strokes[a + 1:]:
            gap = (line[j].x - line[i].x - line[i].w) / height
            if gap > PAIR_GAP[1]:
                break
            confidence = min(shape_i, shape_j, ramp(min(beyond_i, beyond_j), MIN_DATE_LEAN,
                                                     DATE_LEAN))
            if gap >= PAIR_GAP[0] and confidence > 0:
                for k in (i, j):
                    pair_confidence[k] = max(pair_confidence.get(k, 0.0), confidence)
    out = []
    for candidate in found:
        if candidate.char == "/":
            if candidate.last - candidate.first > 1 or candidate.first not in pair_confidence:
                continue
            confidence = pair_confidence.pop(candidate.first)
            if confidence > candidate.confidence:
                # A slash less likely than not by its own lean is one only as the pair's.
                candidate = replace(candidate, confidence=confidence,
                                    dated=candidate.confidence < 0.5)
        out.append(candidate)
    out.extend(SeparatorCandidate(i, i + 1, "/", confidence, line[i], dated=True)
               for i, confidence in pair_confidence.items())
    return sorted(out, key=lambda candidate: (candidate.first, candidate.last))

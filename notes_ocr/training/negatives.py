"""Negatives: blobs that are not one whole digit (touching pairs and triples, fragments,
marks), made fresh from the digits of each epoch and labelled NOT_DIGIT."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import cv2
import numpy as np

from notes_ocr.normalize import MNIST_SIZE, MNIST_STROKE_RATIO, fit_to_mnist
from notes_ocr.training.augment import (
    AUG_CHUNK,
    AUG_UPSAMPLE,
    FAINT,
    ink_boxes,
    restyle,
    stacked,
)

if TYPE_CHECKING:
    pass

# The segmenter hands the classifier some blobs that are not one digit: two or three touching
# digits it could not split, half of a broken digit it could not mend, stray marks. Trained
# on digits alone, softmax reads them as digits, often confidently; so each epoch also shows
# the model such blobs, labelled NOT_DIGIT, made the way the scanner would see them. They are
# drawn at AUG_UPSAMPLE times MNIST's resolution, like the augmented digits, and finished
# the same way (`_as_scanned`).
NEGATIVE_RATIO = 0.2  # negatives per training digit: a sixth of each epoch
# Touching digits are what segmentation most often gets wrong; fragments are the kind most
# like real (broken, open) digits, so there are fewer of them.
NEGATIVE_SHARES = {"pairs": 0.6, "fragments": 0.2, "junk": 0.2}
# Loss weight of a negative relative to a digit. Some real digits look broken or crowded;
# a weight below 1 makes the model take a doubtful blob for a digit rather than reject it
# (like lowering NOT_DIGIT's prior). 10-epoch pilots, weight 1 / 0.5 / 0.25: 37 / 23 / 19
# MNIST test digits rejected, 95% / 93% / 89% of held-out touching pairs.
NEGATIVE_WEIGHT = 0.25

P_TRIPLE = 0.15  # share of merged blobs made of three digits rather than two
MAX_OVERLAP = 4.0  # MNIST pixels by which neighbouring ink boxes overlap, from 0 (touching)
PAIR_SCALE = (0.85, 1.15)  # neighbours are written at about the same size
MAX_DROP = 2.5  # MNIST pixels each digit sits above or below the line's middle
MARGIN = 8  # canvas pixels of background around a negative: more than any filter reaches
PIECE = 22 * AUG_UPSAMPLE * PAIR_SCALE[1]  # the widest/tallest a digit's ink can be drawn
PAIR_HEIGHT = math.ceil(PIECE + 2 * MAX_DROP * AUG_UPSAMPLE) + 2 * MARGIN
PAIR_WIDTH = math.ceil(3 * PIECE) + 2 * MARGIN

FRAGMENT_KEEP = (0.35, 0.6)  # share of the ink box's width or height a fragment keeps
FRAGMENT_INK = (0.1, 0.75)  # share of the digit's ink it keeps: neither a speck nor nearly all
# A single near-upright straight stroke is what a 1 is, and a closed loop is a 0: a fragment
# or mark like that is a digit to anyone, so it is never labelled NOT_DIGIT. "Straight": the
# ink's second moments have a minor/major axis ratio (square root) below LINE_RATIO;
# "upright": the main axis is steeper than MIN_ONE_ANGLE degrees (MNIST's 1s lean less).
LINE_RATIO = 0.35
MIN_ONE_ANGLE = 40.0
MIN_HOLE = 3  # pixels of enclosed background that make a loop, not an anti-aliasing gap

JUNK_SIDE = 72
JUNK_KINDS = ("stroke", "dots", "scribble", "cross", "arc")
STROKE_THICKNESS = (2, 8)  # canvas pixels, end exclusive: about MNIST's strokes at 2x
MAX_STROKE_RADIUS = 3  # the largest dilation or erosion `_match_stroke_width` applies
MAX_DRAWS = 20  # rounds of drawing before a generator gives up on its input


def make_negatives(
    digits: np.ndarray, labels: np.ndarray, count: int, rng: np.random.Generator
) -> np.ndarray:
    """``count`` blobs that are not one whole digit, as the scanner would normalise them.

    Mostly touching digits, the rest fragments and stray marks (`NEGATIVE_SHARES`), drawn
    from ``digits`` (uint8 (N, 28, 28), MNIST-framed) and their ``labels``. Returns uint8
    (count, 28, 28), grouped by kind.
    """
    shares = np.array(list(NEGATIVE_SHARES.values()))
    counts = rng.multinomial(count, shares / shares.sum())
    parts = [np.zeros((0, MNIST_SIZE, MNIST_SIZE), np.uint8)]
    for kind, total in zip(NEGATIVE_SHARES, counts, strict=True):
        # In chunks, like the augmentation: the drawing canvases are large.
        for start in range(0, total, AUG_CHUNK):
            size = min(AUG_CHUNK, total - start)
            parts.append(NEGATIVE_KINDS[kind](digits, labels, int(size), rng))
    return np.concatenate(parts)


def touching_pairs(
    digits: np.ndarray, labels: np.ndarray, count: int, rng: np.random.Generator
) -> np.ndarray:
    """Two (sometimes three) digits side by side, their ink boxes touching or overlapping.

    Each digit is written a little larger or smaller and higher or lower than its
    neighbours; ``labels`` is unused (any digits can touch). Returns uint8 (count, 28, 28).
    """
    del labels
    pieces = np.where(rng.random(count) < P_TRIPLE, 3, 2)
    chosen = _without_faint(digits[rng.integers(0, len(digits), 3 * count)])
    scale = AUG_UPSAMPLE * rng.uniform(*PAIR_SCALE, (count, 3))
    overlap = AUG_UPSAMPLE * rng.uniform(0.0, MAX_OVERLAP, (count, 3))
    drop = AUG_UPSAMPLE * rng.uniform(-MAX_DROP, MAX_DROP, (count, 3))
    left, right, top, bottom = (edge.reshape(count, 3) for edge in ink_boxes(chosen))
    chosen = chosen.reshape(count, 3, MNIST_SIZE, MNIST_SIZE)

    # cv2.warpAffine puts pixel centres at integers: source pixel i covers [i - 0.5, i + 0.5]
    # and lands on [s (i - 0.5) + t, s (i + 0.5) + t]. Each piece's ink starts where the
    # previous one's ends, less the overlap; the first starts at the margin.
    shift_x = np.empty((count, 3))
    end = np.full(count, MARGIN - 0.5)
    for j in range(3):
        start = end - (overlap[:, j] if j else 0.0)
        shift_x[:, j] = start - scale[:, j] * (left[:, j] - 0.5)
        end = scale[:, j] * (right[:, j] + 0.5) + shift_x[:, j]
    middle = (PAIR_HEIGHT - 1) / 2 + drop
    shift_y = middle - scale * (top + bottom) / 2

    canvas = np.zeros((count, PAIR_HEIGHT, PAIR_WIDTH), np.uint8)
    piece = np.empty((PAIR_HEIGHT, PAIR_WIDTH), np.uint8)
    for i in range(count):
        for j in range(pieces[i]):
            matrix = np.array(
                [[scale[i, j], 0.0, shift_x[i, j]], [0.0, scale[i, j], shift_y[i, j]]]
            )
            cv2.warpAffine(
                chosen[i, j],
                matrix,
                (PAIR_WIDTH, PAIR_HEIGHT),
                dst=piece,
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_CONSTANT,
            )
            np.maximum(canvas[i], piece, out=canvas[i])
    return _as_scanned(canvas, rng)


def fragments(
    digits: np.ndarray, labels: np.ndarray, count: int, rng: np.random.Generator
) -> np.ndarray:
    """Digits with a large part gone: the left, right, top or bottom 35-60% of the ink box kept.

    A piece of a 1 is still a 1, so 1s are never cut, and the top or right of a 7 is a 7
    with a short leg, so only the left or bottom of a 7 is kept. A piece that kept nearly all the
    ink, or that the scanner would hand over as a single upright stroke (the foot of a 4 or
    9 is a 1 once scaled up) or a closed loop (the top of a 9 or 8 is a 0) is not a
    fragment either and is drawn again. Returns uint8 (count, 28, 28).
    """
    eligible = np.flatnonzero(labels != 1)
    if count and not eligible.size:
        raise ValueError("fragments need digits other than 1")
    side = MNIST_SIZE * AUG_UPSAMPLE + 2 * MARGIN
    inner = MNIST_SIZE * AUG_UPSAMPLE

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        picks = rng.choice(eligible, n)
        whole = _without_faint(digits[picks])
        left, right, top, bottom = ink_boxes(whole)
        keep = rng.uniform(*FRAGMENT_KEEP, n)
        # Which part stays: 0 left, 1 right, 2 top, 3 bottom.
        part = rng.integers(0, 4, n)
        part = np.where(labels[picks] == 7, 3 * rng.integers(0, 2, n), part)
        extent = np.where(part < 2, right + 1 - left, bottom + 1 - top)
        start = np.where(part < 2, left, top)
        cut = np.where(part % 2 == 0, start + keep * extent, start + (1 - keep) * extent)
        grid = np.arange(MNIST_SIZE, dtype=np.float64)
        # (n, 28, 28): each pixel's column (left or right part) or row (top or bottom part).
        along = np.where((part < 2)[:, None, None], grid[None, None, :], grid[None, :, None])
        before = along + 0.5 <= cut[:, None, None]
        kept = np.where(before == (part % 2 == 0)[:, None, None], whole, 0)
        ink = kept.sum(axis=(1, 2), dtype=np.float64) / whole.sum(axis=(1, 2), dtype=np.float64)
        # Up to the drawing resolution; MNIST's empty border keeps the stacked resize from
        # blending neighbouring digits.
        big = np.zeros((n, side, side), np.uint8)
        resized = cv2.resize(
            kept.reshape(-1, MNIST_SIZE), (inner, n * inner), interpolation=cv2.INTER_LINEAR
        )
        big[:, MARGIN:-MARGIN, MARGIN:-MARGIN] = resized.reshape(n, inner, inner)
        scanned = _as_scanned(big, rng)
        valid = (ink >= FRAGMENT_INK[0]) & (ink <= FRAGMENT_INK[1]) & ~_looks_whole(scanned)
        return scanned, valid

    return _draw_valid(draw, count)


def junk_marks(
    digits: np.ndarray, labels: np.ndarray, count: int, rng: np.random.Generator
) -> np.ndarray:
    """Stray marks: straight strokes and dashes, dots, scribbles, crossed lines, open arcs.

    Drawn with OpenCV at about MNIST's stroke widths; ``digits`` and ``labels`` are unused.
    A mark the scanner would hand over as an upright stroke or a closed loop is a 1 or a 0
    and is drawn again. Returns uint8 (count, 28, 28).
    """
    del digits, labels

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        canvas = np.zeros((n, JUNK_SIDE, JUNK_SIDE), np.uint8)
        kinds = rng.integers(0, len(JUNK_KINDS), n)
        for i in range(n):
            _draw_junk(canvas[i], JUNK_KINDS[kinds[i]], rng)
        scanned = _as_scanned(canvas, rng)
        return scanned, scanned.any(axis=(1, 2)) & ~_looks_whole(scanned)

    return _draw_valid(draw, count)


NEGATIVE_KINDS: dict[str, Callable[..., np.ndarray]] = {
    "pairs": touching_pairs,
    "fragments": fragments,
    "junk": junk_marks,
}


def _draw_junk(canvas: np.ndarray, kind: str, rng: np.random.Generator) -> None:
    """Draw one stray mark of ``kind`` in the middle of a JUNK_SIDE square canvas."""
    centre = np.array([JUNK_SIDE / 2, JUNK_SIDE / 2]) + rng.uniform(-4, 4, 2)
    reach = JUNK_SIDE / 2 - MARGIN  # the farthest from the centre a mark goes
    thickness = int(rng.integers(*STROKE_THICKNESS))

    def point(xy: np.ndarray) -> tuple[int, int]:
        return round(float(xy[0])), round(float(xy[1]))

    def segment(angle: float, length: float) -> tuple[tuple[int, int], tuple[int, int]]:
        half = 0.5 * length * np.array([math.cos(angle), math.sin(angle)])
        return point(centre - half), point(centre + half)

    if kind == "stroke":  # a dash or a line, never steep enough to be a 1
        angle = math.radians(rng.uniform(-MIN_ONE_ANGLE + 5, MIN_ONE_ANGLE - 5))
        cv2.line(canvas, *segment(angle, rng.uniform(10, 1.6 * reach)), 255, thickness)
    elif kind == "dots":
        for _ in range(int(rng.integers(1, 4))):
            spot = point(centre + rng.uniform(-0.5 * reach, 0.5 * reach, 2))
            cv2.circle(canvas, spot, int(rng.integers(2, 7)), 255, -1)
    elif kind == "scribble":  # a tangle of short random turns
        size = rng.uniform(0.3, 0.8) * reach
        points = centre + rng.uniform(-size, size, (int(rng.integers(5, 9)), 2))
        cv2.polylines(canvas, [np.rint(points).astype(np.int32)], False, 255, thickness)
    elif kind == "cross":  # two lines crossing near their middles: x, +, or askew
        angle = rng.uniform(0, math.pi)
        for turn in (0.0, rng.uniform(math.radians(50), math.radians(130))):
            length = rng.uniform(0.8, 1.6) * reach
            cv2.line(canvas, *segment(angle + turn, length), 255, thickness)
    else:  # an open arc, at most half round (more is an open 0)
        axes = point(rng.uniform(0.35, 0.8, 2) * reach)
        start = rng.uniform(0, 360)
        end = start + rng.uniform(90, 180)
        tilt = rng.uniform(0, 180)
        cv2.ellipse(canvas, point(centre), axes, tilt, start, end, 255, thickness)


def _draw_valid(draw: Callable[[int], tuple[np.ndarray, np.ndarray]], count: int) -> np.ndarray:
    """``count`` images from ``draw(n) -> (images, valid)``, drawing again as needed."""
    chosen = [np.zeros((0, MNIST_SIZE, MNIST_SIZE), np.uint8)]
    need = count
    for _ in range(MAX_DRAWS):
        if need == 0:
            return np.concatenate(chosen)
        images, valid = draw(max(16, need + need // 2))  # most are valid: one round, often
        picked = images[valid][:need]
        chosen.append(picked)
        need -= len(picked)
    if need == 0:
        return np.concatenate(chosen)
    raise ValueError(f"could not draw {count} valid negatives from these digits")


def _without_faint(digits: np.ndarray) -> np.ndarray:
    """A copy of ``digits`` with faint pixels dropped, so ink boxes are the visible ink's."""
    digits = np.array(digits, dtype=np.uint8)
    digits[digits < FAINT] = 0
    return digits


def _upright_stroke(images: np.ndarray) -> np.ndarray:
    """(N,) bool: the ink is one straight stroke nearer upright than flat, as a 1 is.

    From the ink's second moments: the spread across the main axis is small beside the
    spread along it, and the spread is larger down than across.
    """
    count, height, width = images.shape
    rows, cols = np.mgrid[:height, :width].reshape(2, -1).astype(np.float64)
    rows -= (height - 1) / 2  # centred coordinates keep the variances' subtraction exact
    cols -= (width - 1) / 2
    basis = np.stack([np.ones_like(rows), cols, rows, cols**2, rows**2, cols * rows], axis=1)
    moments = images.reshape(count, -1).astype(np.float64) @ basis
    total = np.maximum(moments[:, 0], 1e-9)
    mean_x, mean_y = moments[:, 1] / total, moments[:, 2] / total
    var_x = moments[:, 3] / total - mean_x**2
    var_y = moments[:, 4] / total - mean_y**2
    cov = moments[:, 5] / total - mean_x * mean_y
    spread = np.sqrt(((var_x - var_y) / 2) ** 2 + cov**2)
    major = (var_x + var_y) / 2 + spread
    minor = np.maximum((var_x + var_y) / 2 - spread, 0.0)
    straight = np.sqrt(minor / np.maximum(major, 1e-9)) < LINE_RATIO
    # The main axis' angle from the horizontal, 0-90 degrees.
    angle = np.degrees(np.abs(0.5 * np.arctan2(2 * cov, var_x - var_y)))
    return straight & (angle > MIN_ONE_ANGLE)


def _looks_whole(images: np.ndarray) -> np.ndarray:
    """(N,) bool: MNIST-style images that are a 1 or a 0 to anyone, whatever they came from.

    A loop left open by a pixel or two counts as closed: writers leave 0s, 6s and 9s open.
    """
    closed = stacked(cv2.dilate, images, cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3)))
    return _upright_stroke(images) | _has_loop(images) | _has_loop(closed)


def _has_loop(images: np.ndarray) -> np.ndarray:
    """(N,) bool: the ink encloses some background, as a 0, 6, 8 or 9 does."""
    loops = np.zeros(len(images), bool)
    for i, image in enumerate(images):
        # With a background frame, the outside is one component; any other is a hole.
        background = np.pad(image < FAINT, 1, constant_values=True).astype(np.uint8)
        stats = cv2.connectedComponentsWithStats(background, connectivity=4)[2]
        loops[i] = bool((stats[1:, cv2.CC_STAT_AREA] >= MIN_HOLE).sum() > 1)
    return loops


def _as_scanned(canvas: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Finish negatives drawn at AUG_UPSAMPLE resolution as the scanner finishes a blob.

    The scanner redraws every blob's strokes at MNIST's share of its longer side before
    fitting it (`normalize.match_stroke_width`): a merged pair, being wider, gets thicker
    strokes than either digit alone. Then the digits' own restyling (pen weight,
    binarization, blur), faint pixels dropped, and `fit_to_mnist`.
    """
    drawn = restyle(_match_stroke_width(canvas), rng)
    drawn[drawn < FAINT] = 0
    out = np.empty((len(drawn), MNIST_SIZE, MNIST_SIZE), np.uint8)
    for i, ink in enumerate(drawn):
        out[i] = fit_to_mnist(ink)
    return out


def _match_stroke_width(canvas: np.ndarray) -> np.ndarray:
    """Dilate or erode each image so its strokes are MNIST_STROKE_RATIO of its longer side.

    A vectorized stand-in for `normalize.match_stroke_width`: the stroke width is estimated
    as twice the ink's area over its boundary (both edges of a stroke are boundary), which
    needs one erosion of the whole stack instead of a skeleton per image.
    """
    if len(canvas) == 0:
        return canvas
    mask = (canvas >= 128).astype(np.uint8)
    cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    area = mask.sum(axis=(1, 2), dtype=np.float64)
    boundary = area - stacked(cv2.erode, mask, cross).sum(axis=(1, 2), dtype=np.float64)
    width = 2 * area / np.maximum(boundary, 1)
    left, right, top, bottom = ink_boxes(mask)
    longer = np.maximum(right - left, bottom - top) + 1
    radius = np.clip(
        np.rint((MNIST_STROKE_RATIO * longer - width) / 2), -MAX_STROKE_RADIUS, MAX_STROKE_RADIUS
    ).astype(int)
    radius[area == 0] = 0
    out = canvas.copy()
    for r in np.unique(radius[radius != 0]):
        picked = np.flatnonzero(radius == r)
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(r) + 1,) * 2)
        operation = cv2.dilate if r > 0 else cv2.erode
        changed = stacked(operation, canvas[picked], kernel)
        # Like the scanner, never erase a mark: keep it as it was instead.
        survived = (changed >= 128).any(axis=(1, 2))
        out[picked[survived]] = changed[survived]
    return out

"""Augmentation: MNIST digits distorted as handwriting and pens vary, and re-framed as the
scanner frames a blob; continental 1s."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import cv2
import numpy as np

from notes_ocr.normalize import MNIST_SIZE, fit_to_mnist, normalize_blob

if TYPE_CHECKING:
    pass

# Augmented digits are drawn on a canvas larger than MNIST's field, so that rotating,
# shearing or stretching does not cut ink off, and at twice MNIST's resolution, so that
# thickening a stroke by one pixel is a fine change and re-fitting it anti-aliases like the
# scanner does on its high-resolution blob masks.
AUG_CANVAS = 32  # side in MNIST pixels
AUG_UPSAMPLE = 2
AUG_SIDE = AUG_CANVAS * AUG_UPSAMPLE
AUG_KNOTS = 5  # spline knots per side spanning the canvas: the warp's smoothness
FAINT = 30  # pixels below this are dropped so the fitted box is the ink's box
AUG_CHUNK = 2048  # digits per vectorized step: bounds the memory the maps take

MAX_ROTATION = math.radians(12.0)
MAX_SHEAR = 0.25  # slant: x shifts by this times y
MAX_LOG_ASPECT = 0.2  # width / height scaled by exp(+-this)
MAX_ELASTIC = 1.0  # largest standard deviation of the elastic displacement, MNIST pixels
P_THICKER, P_THINNER = 0.3, 0.2
P_BINARY = 0.5  # the scanner fits binary blob masks; MNIST's strokes are grey
P_BLUR = 0.4
BLUR_SIGMA = 1.2  # canvas pixels; each blurred digit gets a random share of it
# Share of augmented digits cut out as the scanner cuts them (`_scanned_blob`): a binary
# mask at the size a digit has on a page (px tall), thresholded at a share of full ink.
P_SCANNED = 0.35
SCAN_HEIGHT = (16.0, 72.0)
SCAN_LEVEL = (0.3, 0.6)
# Share of the augmented digits not cut out as the scanner cuts them that get 1 to MAX_SPECKS
# specks near or on their ink (dust, a tap of the pen), as some MNIST digits have: a digit
# with a speck is still that digit, not two marks side by side (4 of the 13 MNIST test digits
# the model trained without them took for "not a digit" had a dot or a dash beside them).
# The scanner's own blobs never have one (a speck apart from a digit is its own component,
# and dropped); given specks too, the model read pages worse, taking a sliver cut off a
# neighbour for part of a digit (held-out pages 4.09% against 4.01%). A speck is a dot
# (P_DOT of them) or a short dash, sizes in canvas pixels, end exclusive; it lies within
# SPECK_REACH of the ink box.
P_SPECKS = 0.1
MAX_SPECKS = 3
SPECK_REACH = 3 * AUG_UPSAMPLE
P_DOT = 0.6
DOT_RADIUS = (1, 4)
DASH_LENGTH = (3.0, 10.0)
DASH_THICKNESS = (1, 3)
SPECK_LEVEL = (128, 256)


def augment_digits(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A randomly distorted copy of MNIST digits, re-normalised as the scanner's output is.

    Each digit gets a random rotation, slant, aspect change and a smooth elastic warp (how
    handwriting varies), a thicker or thinner stroke (pens vary), maybe binarisation (the
    scanner fits binary masks) and a slight blur. It is then cut down to its ink and fitted
    again with `fit_to_mnist`, so the result is framed exactly like a scanned digit.

    Parameters
    ----------
    images : (N, 28, 28) uint8 array
        White ink on black, as in MNIST.
    rng : numpy Generator
        The only source of randomness: the same state gives the same output.

    Returns
    -------
    (N, 28, 28) uint8 array.
    """
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
        raise ValueError(
            f"expected uint8 images of shape (N, 28, 28), got {images.dtype} {images.shape}"
        )
    out = np.empty_like(images)
    for start in range(0, len(images), AUG_CHUNK):
        chunk = images[start : start + AUG_CHUNK]
        out[start : start + len(chunk)] = _augment_chunk(chunk, rng)
    return out


def _augment_chunk(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """`augment_digits` on a batch small enough to hold its sampling maps in memory."""
    count = len(images)
    map_x, map_y = _sampling_maps(count, rng)
    warped = np.empty((count, AUG_SIDE, AUG_SIDE), np.uint8)
    for i in range(count):
        cv2.remap(
            images[i],
            map_x[i],
            map_y[i],
            cv2.INTER_LINEAR,
            dst=warped[i],
            borderMode=cv2.BORDER_CONSTANT,
        )
    scanned = rng.random(count) < P_SCANNED
    _add_specks(warped, rng, ~scanned)
    drawn = restyle(warped, rng)
    drawn[drawn < FAINT] = 0
    heights = rng.uniform(*SCAN_HEIGHT, count)
    levels = rng.uniform(*SCAN_LEVEL, count)
    out = np.empty_like(images)
    for i in range(count):
        fitted = _scanned_blob(warped[i], heights[i], levels[i]) if scanned[i] else None
        if fitted is None or not fitted.any():
            fitted = fit_to_mnist(drawn[i])
        if not fitted.any():  # a thin digit may not survive erosion and binarization
            fitted = fit_to_mnist(np.where(images[i] < FAINT, 0, images[i]))
        out[i] = fitted
    return out


def _add_specks(canvas: np.ndarray, rng: np.random.Generator, eligible: np.ndarray) -> None:
    """Draw specks, in place, on a P_SPECKS share of the ``eligible`` (bool (N,)) digits of a
    (N, AUG_SIDE, AUG_SIDE) canvas stack.

    Each lies within SPECK_REACH of its digit's ink box: close enough that the fitted box
    takes it in, as in MNIST's own specky digits.
    """
    picked = np.flatnonzero((rng.random(len(canvas)) < P_SPECKS) & eligible)
    if picked.size == 0:
        return
    left, right, top, bottom = ink_boxes(canvas[picked] >= FAINT)
    last = canvas.shape[1] - 3  # keep a speck's centre off the canvas edge
    for i, index in enumerate(picked):
        for _ in range(int(rng.integers(1, MAX_SPECKS + 1))):
            x = int(rng.integers(left[i] - SPECK_REACH, right[i] + SPECK_REACH + 1))
            y = int(rng.integers(top[i] - SPECK_REACH, bottom[i] + SPECK_REACH + 1))
            centre = (min(max(x, 2), last), min(max(y, 2), last))
            level = int(rng.integers(*SPECK_LEVEL))
            if rng.random() < P_DOT:
                cv2.circle(canvas[index], centre, int(rng.integers(*DOT_RADIUS)), level, -1)
            else:
                length, angle = rng.uniform(*DASH_LENGTH), rng.uniform(0, np.pi)
                end = (round(centre[0] + length * np.cos(angle)),
                       round(centre[1] + length * np.sin(angle)))
                cv2.line(canvas[index], centre, end, level, int(rng.integers(*DASH_THICKNESS)))


def _scanned_blob(canvas: np.ndarray, height: float, level: float) -> np.ndarray | None:
    """A digit as the scanner hands it over: a binary blob ``height`` px tall, normalised.

    The canvas's ink is scaled to the height of a digit on a scanned page, thresholded at
    ``level`` (share of full ink) into a binary mask, and finished by the scanner's own
    `normalize_blob`: strokes redrawn at MNIST's width, then fitted. Small blobs come out
    jagged and large ones smooth, as on real pages. None when no ink survives.
    """
    rows = np.flatnonzero(canvas.max(axis=1) >= FAINT)
    cols = np.flatnonzero(canvas.max(axis=0) >= FAINT)
    if rows.size == 0:
        return None
    crop = canvas[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    scale = height / crop.shape[0]
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    mask = cv2.resize(crop, size, interpolation=interpolation) >= level * 255
    return normalize_blob(mask) if mask.any() else None


def _spline_matrix(knots: int, side: int) -> np.ndarray:
    """(side, knots + 2) Catmull-Rom weights: canvas pixel <- spline control points.

    The inner ``knots`` control points span the canvas, plus one outside each end, so the
    spline reproduces linear functions exactly: an affine map sampled at the control points
    comes out unchanged, and the elastic warp rides on it at no extra cost.
    """
    u = np.arange(side) * (knots - 1) / (side - 1)
    k = np.minimum(np.floor(u).astype(int), knots - 2)
    t = u - k
    weights = np.stack(
        [
            (-(t**3) + 2 * t**2 - t) / 2,
            (3 * t**3 - 5 * t**2 + 2) / 2,
            (-3 * t**3 + 4 * t**2 + t) / 2,
            (t**3 - t**2) / 2,
        ],
        axis=1,
    )
    matrix = np.zeros((side, knots + 2))
    for j in range(4):
        matrix[np.arange(side), k + j] = weights[:, j]
    return matrix.astype(np.float32)


def _sampling_maps(count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Where each canvas pixel samples its source digit: a random affine plus elastic warp.

    Returns two (count, AUG_SIDE, AUG_SIDE) float32 arrays of source x and y in cv2.remap's
    convention (pixel centres at integers).
    """
    angle = rng.uniform(-MAX_ROTATION, MAX_ROTATION, count)
    shear = rng.uniform(-MAX_SHEAR, MAX_SHEAR, count)
    aspect = np.exp(rng.uniform(-MAX_LOG_ASPECT, MAX_LOG_ASPECT, count))
    cos, sin = np.cos(angle), np.sin(angle)
    # Forward map: stretch x by the aspect, slant, then rotate. Sampling needs its inverse.
    stretch_slant = np.zeros((count, 2, 2))
    stretch_slant[:, 0, 0] = aspect
    stretch_slant[:, 0, 1] = shear
    stretch_slant[:, 1, 1] = 1.0
    rotation = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], -2)
    inverse = np.linalg.inv(rotation @ stretch_slant)

    # Control point positions in MNIST pixels from the canvas centre (canvas pixel centres
    # are at (i + 0.5) / AUG_UPSAMPLE - 0.5); the outer two lie beyond the canvas.
    spacing = (AUG_SIDE - 1) / (AUG_KNOTS - 1)
    pixel = (np.arange(-1, AUG_KNOTS + 1) * spacing + 0.5) / AUG_UPSAMPLE - 0.5
    knot = pixel - (AUG_CANVAS - 1) / 2
    kx, ky = knot[None, None, :], knot[None, :, None]
    # MNIST digits have their centre of mass at the field's centre, (13.5, 13.5).
    control = np.empty((count, 2, AUG_KNOTS + 2, AUG_KNOTS + 2))
    for row in range(2):
        control[:, row] = (
            inverse[:, row, 0, None, None] * kx + inverse[:, row, 1, None, None] * ky + 13.5
        )
    # Elastic warp: independent random offsets of the control points (Simard et al. blur
    # dense noise instead; a coarse spline gives the same smooth warps for less work).
    strength = rng.uniform(0.0, MAX_ELASTIC, count)
    control += strength[:, None, None, None] * rng.standard_normal(control.shape)

    spline = _spline_matrix(AUG_KNOTS, AUG_SIDE)
    maps = spline @ control.astype(np.float32) @ spline.T
    return maps[:, 0], maps[:, 1]


def restyle(canvas: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random stroke weight, binarization and blur on a stack of digit canvases.

    Each effect runs once on all the digits it picked, stacked into one tall image: their
    margins are wider than the 3x3 and blur kernels reach, so they do not bleed together.
    """
    count = len(canvas)
    drawn = canvas.copy()
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    style = rng.random(count)
    for picked, operation in (
        (style < P_THICKER, cv2.dilate),
        (style >= 1.0 - P_THINNER, cv2.erode),
    ):
        drawn[picked] = stacked(operation, drawn[picked], kernel)

    binary = np.flatnonzero(rng.random(count) < P_BINARY)
    level = rng.uniform(60, 150, len(binary)).astype(np.float32)
    # A uint8 product: np.where with Python ints would build an int64 copy of every canvas.
    drawn[binary] = (drawn[binary] >= level[:, None, None]) * np.uint8(255)

    blurred = np.flatnonzero(rng.random(count) < P_BLUR)
    share = rng.uniform(0.0, 1.0, len(blurred)).astype(np.float32)[:, None, None]
    sharp = drawn[blurred].astype(np.float32)
    soft = stacked(cv2.GaussianBlur, sharp, (0, 0), BLUR_SIGMA)
    drawn[blurred] = np.rint(sharp + share * (soft - sharp)).astype(np.uint8)
    return drawn


def stacked(operation: Callable[..., np.ndarray], stack: np.ndarray, *args) -> np.ndarray:
    """Apply a 2-D OpenCV filter to a (n, h, w) stack at once, as one (n * h, w) image."""
    if len(stack) == 0:
        return stack
    count, height, width = stack.shape
    return operation(stack.reshape(count * height, width), *args).reshape(stack.shape)




# MNIST's writers were American: their 1 is a bare stroke. Much of the world writes a 1 with
# a long up-stroke (the continental 1, whose writers cross their 7s), which a model that
# never saw one reads as 7. A P_FLAG share of the training 1s get such a flag, drawn from
# the top of the stroke down to the left at FLAG_ANGLE degrees below the horizontal (a 7's
# bar lies flatter) and FLAG_LENGTH of the digit's height long, as thick as the stroke.
# Only 1s that stand upright or lean forward get one: a flag on a 1 leaning back makes a 7.
P_FLAG = 0.2
FLAG_ANGLE = (40.0, 65.0)
FLAG_LENGTH = (0.4, 0.65)
FLAG_SUPERSAMPLE = 4


def add_flags(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """MNIST 1s (uint8 (N, 28, 28)) written as continental 1s, with an up-stroke flag.

    The flag starts at the middle of the stroke's top row and is drawn anti-aliased at
    FLAG_SUPERSAMPLE times the resolution, then averaged down; a 1 leaning back (its top
    left of its foot) or with no ink is returned as it is.
    """
    out = np.asarray(images).copy()
    side = MNIST_SIZE * FLAG_SUPERSAMPLE
    for i, image in enumerate(out):
        rows = np.flatnonzero((image >= 128).any(axis=1))
        if rows.size == 0:
            continue
        top, height = rows[0], rows[-1] - rows[0] + 1
        x0 = float(np.flatnonzero(image[top] >= 128).mean())
        foot = float(np.flatnonzero(image[rows[-1]] >= 128).mean())
        if x0 < foot - 0.1 * height:
            continue
        angle = math.radians(rng.uniform(*FLAG_ANGLE))
        length = rng.uniform(*FLAG_LENGTH) * height
        x1, y1 = x0 - length * math.cos(angle), top + length * math.sin(angle)
        # The stroke's width: its ink over its length, the digit being one stroke.
        width = np.count_nonzero(image >= 128) / height
        canvas = np.zeros((side, side), np.uint8)
        start = (round((x0 + 0.5) * FLAG_SUPERSAMPLE), round((top + 0.5) * FLAG_SUPERSAMPLE))
        end = (round((x1 + 0.5) * FLAG_SUPERSAMPLE), round((y1 + 0.5) * FLAG_SUPERSAMPLE))
        thickness = max(1, round(width * FLAG_SUPERSAMPLE))
        cv2.line(canvas, start, end, 255, thickness, cv2.LINE_AA)
        flag = cv2.resize(canvas, (MNIST_SIZE, MNIST_SIZE), interpolation=cv2.INTER_AREA)
        out[i] = np.maximum(image, flag)
    return out


def ink_boxes(images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """First and last inked column and row of each image: (left, right, top, bottom).

    An empty image gets the whole field, so that it still has a size.
    """
    columns = images.any(axis=1)
    rows = images.any(axis=2)
    width, height = images.shape[2], images.shape[1]
    left = np.where(columns.any(axis=1), columns.argmax(axis=1), 0)
    right = np.where(columns.any(axis=1), width - 1 - columns[:, ::-1].argmax(axis=1), width - 1)
    top = np.where(rows.any(axis=1), rows.argmax(axis=1), 0)
    bottom = np.where(rows.any(axis=1), height - 1 - rows[:, ::-1].argmax(axis=1), height - 1)
    return left, right, top, bottom

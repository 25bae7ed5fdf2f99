"""Training, exporting and evaluating the digit recogniser (an MLP on MNIST).

This is the only module that imports Keras. It is imported by ``notes-ocr train`` and
``notes-ocr eval`` alone: scanning runs the exported weights with NumPy (see recognizer.py),
so that it never pays for importing TensorFlow.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from notes_ocr.errors import ModelError
from notes_ocr.mnist import Mnist, load_mnist
from notes_ocr.normalize import MNIST_SIZE, MNIST_STROKE_RATIO, fit_to_mnist, normalize_blob
from notes_ocr.recognizer import (
    ACTIVATIONS,
    KERAS_NAME,
    MODEL_FORMAT,
    N_DIGITS,
    N_PIXELS,
    NOT_DIGIT,
    NPZ_NAME,
    Recognizer,
    to_input,
    write_checksums,
)

if TYPE_CHECKING:
    import keras

# TensorFlow's C++ start-up notices (oneDNN, CPU features) are noise in a user's terminal.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@dataclass
class TrainConfig:
    """Everything that decides the trained model; the defaults make the shipped one."""

    hidden: tuple[int, ...] = (1536, 1536)
    dropout: float = 0.2
    epochs: int = 100
    batch_size: int = 256
    learning_rate: float = 1e-3
    seed: int = 0
    augment: bool = True
    reject: bool = True  # learn the NOT_DIGIT class from negatives; False: 10 outputs
    limit: int | None = None  # train on the first `limit` digits only (smoke tests)


# --- the model ---------------------------------------------------------------------------


def build_mlp(
    hidden: tuple[int, ...], dropout: float, n_classes: int = N_DIGITS + 1
) -> keras.Model:
    """The recogniser's architecture, defined here only.

    784 pixels in [0, 1] -> (Dense relu -> Dropout) per ``hidden`` entry -> Dense softmax
    over ``n_classes``: the 10 digits, and NOT_DIGIT when it is 11.
    Only Dense and Dropout layers: `export_weights` and the NumPy engine rely on that.
    """
    import keras

    pixels = keras.Input(shape=(N_PIXELS,), dtype="float32", name="pixels")
    x = pixels
    for index, units in enumerate(hidden):
        x = keras.layers.Dense(units, activation="relu", name=f"dense_{index}")(x)
        x = keras.layers.Dropout(dropout, name=f"dropout_{index}")(x)
    probabilities = keras.layers.Dense(n_classes, activation="softmax", name="digits")(x)
    return keras.Model(pixels, probabilities, name="notes_ocr_mlp")


def export_weights(model: keras.Model, path: str | Path) -> None:
    """Write a model's Dense layers to an .npz that `Recognizer` runs with NumPy.

    The file holds ``format``, ``activations`` (one name per Dense layer) and ``kernel_<i>``
    / ``bias_<i>`` float32 arrays: plain arrays only, so it loads with allow_pickle=False.
    Dropout is the identity at inference and is skipped; any other layer is a ModelError,
    since the NumPy engine would silently compute something else.
    """
    import keras

    arrays: dict[str, np.ndarray] = {}
    activations: list[str] = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer | keras.layers.Dropout):
            continue
        if not isinstance(layer, keras.layers.Dense):
            raise ModelError(
                f"cannot export layer {layer.name!r} ({type(layer).__name__}): "
                "only Dense and Dropout layers are supported"
            )
        activation = layer.get_config()["activation"]
        if activation not in ACTIVATIONS:
            raise ModelError(f"cannot export layer {layer.name!r}: activation {activation!r}")
        kernel = np.asarray(layer.kernel.numpy(), dtype=np.float32)
        if layer.use_bias:
            bias = np.asarray(layer.bias.numpy(), dtype=np.float32)
        else:
            bias = np.zeros(kernel.shape[1], np.float32)
        index = len(activations)
        arrays[f"kernel_{index}"] = kernel
        arrays[f"bias_{index}"] = bias
        activations.append(activation)
    if not activations:
        raise ModelError(f"cannot export model {model.name!r}: it has no Dense layer")
    with open(path, "wb") as file:  # np.savez would append ".npz" to other names
        np.savez(
            file,
            format=np.array(MODEL_FORMAT),
            activations=np.array(activations),
            **arrays,
        )


# --- augmentation ------------------------------------------------------------------------

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
    drawn = _restyle(warped, rng)
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
    left, right, top, bottom = _ink_boxes(canvas[picked] >= FAINT)
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


def _restyle(canvas: np.ndarray, rng: np.random.Generator) -> np.ndarray:
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
        drawn[picked] = _stacked(operation, drawn[picked], kernel)

    binary = np.flatnonzero(rng.random(count) < P_BINARY)
    level = rng.uniform(60, 150, len(binary)).astype(np.float32)
    # A uint8 product: np.where with Python ints would build an int64 copy of every canvas.
    drawn[binary] = (drawn[binary] >= level[:, None, None]) * np.uint8(255)

    blurred = np.flatnonzero(rng.random(count) < P_BLUR)
    share = rng.uniform(0.0, 1.0, len(blurred)).astype(np.float32)[:, None, None]
    sharp = drawn[blurred].astype(np.float32)
    soft = _stacked(cv2.GaussianBlur, sharp, (0, 0), BLUR_SIGMA)
    drawn[blurred] = np.rint(sharp + share * (soft - sharp)).astype(np.uint8)
    return drawn


def _stacked(operation: Callable[..., np.ndarray], stack: np.ndarray, *args) -> np.ndarray:
    """Apply a 2-D OpenCV filter to a (n, h, w) stack at once, as one (n * h, w) image."""
    if len(stack) == 0:
        return stack
    count, height, width = stack.shape
    return operation(stack.reshape(count * height, width), *args).reshape(stack.shape)


# --- negatives: blobs that are not one whole digit ---------------------------------------

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
    left, right, top, bottom = (edge.reshape(count, 3) for edge in _ink_boxes(chosen))
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
        left, right, top, bottom = _ink_boxes(whole)
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


def _ink_boxes(images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
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
    closed = _stacked(cv2.dilate, images, cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3)))
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
    drawn = _restyle(_match_stroke_width(canvas), rng)
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
    boundary = area - _stacked(cv2.erode, mask, cross).sum(axis=(1, 2), dtype=np.float64)
    width = 2 * area / np.maximum(boundary, 1)
    left, right, top, bottom = _ink_boxes(mask)
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
        changed = _stacked(operation, canvas[picked], kernel)
        # Like the scanner, never erase a mark: keep it as it was instead.
        survived = (changed >= 128).any(axis=(1, 2))
        out[picked[survived]] = changed[survived]
    return out


# --- training ----------------------------------------------------------------------------

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


# Share of each epoch's digits left as MNIST has them. Re-fitting blurs MNIST's rendering a
# little; seeing some digits as they are kept the model sharp on them (a 15-epoch pilot:
# 98.9% MNIST test accuracy with every digit augmented, 99.2% with 30% kept as they are).
KEEP_ORIGINAL = 0.3


def train(
    config: TrainConfig,
    out_dir: str | Path,
    mnist_path: str | Path | None = None,
    log: Callable[[str], None] = print,
) -> Path:
    """Train the MLP on MNIST and write ``out_dir/mlp.keras`` and ``out_dir/mlp.npz``.

    Each epoch sees a fresh augmented copy of the training digits and, unless
    ``config.reject`` is off, fresh negatives labelled NOT_DIGIT made from them (both made
    in a background thread while the previous epoch trains). Adam with a cosine-decayed
    learning rate. Logs one line per epoch and, at the end, the exported weights' MNIST test
    accuracy and how they do on held-out negatives made from the test digits.

    Returns the path of the .keras file.
    """
    import keras

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    data = load_mnist(mnist_path)
    digits = data.x_train[: config.limit]
    labels = data.y_train[: config.limit].astype(np.int64)
    n_negatives = round(NEGATIVE_RATIO * len(digits)) if config.reject else 0
    n_classes = N_DIGITS + 1 if config.reject else N_DIGITS
    log(
        f"training {config} on {len(digits)} digits from {data.source}"
        f" and {n_negatives} fresh negatives an epoch; {len(data.x_test)} test digits held out"
    )

    # Where the CPU multiplies bfloat16 natively, Keras' mixed precision (bfloat16 maths,
    # float32 weights) about halves the time of an epoch; elsewhere it would be emulated
    # and slower, so float32 stays.
    precision = "mixed_bfloat16" if cpu_has_bfloat16() else "float32"
    log(f"precision: {precision}")
    keras.mixed_precision.set_global_policy(precision)
    try:
        model = build_mlp(config.hidden, config.dropout, n_classes)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    steps_per_epoch = math.ceil((len(digits) + n_negatives) / config.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(
        config.learning_rate, decay_steps=max(1, config.epochs * steps_per_epoch)
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=schedule),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )

    # One generator per epoch, so an epoch's augmentation depends on the seed alone and not
    # on how the work was scheduled.
    epoch_rngs = [
        np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(config.epochs)
    ]

    def epoch_inputs(epoch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        started = time.perf_counter()
        rng = epoch_rngs[epoch]
        images, targets = digits, labels
        weights = np.ones(len(digits), np.float32)
        if config.augment:
            images = digits.copy()
            flagged = (labels == 1) & (rng.random(len(digits)) < P_FLAG)
            images[flagged] = add_flags(digits[flagged], rng)
            changed = rng.random(len(digits)) >= KEEP_ORIGINAL
            images[changed] = augment_digits(images[changed], rng)
        if n_negatives:
            # Made from this epoch's digits: the negatives vary with the augmentation.
            negatives = make_negatives(images, labels, n_negatives, rng)
            images = np.concatenate([images, negatives])
            targets = np.concatenate([labels, np.full(len(negatives), NOT_DIGIT, np.int64)])
            weights = np.concatenate(
                [weights, np.full(len(negatives), NEGATIVE_WEIGHT, np.float32)]
            )
        return to_input(images), targets, weights, time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(epoch_inputs, 0) if config.epochs else None
        for epoch in range(config.epochs):
            inputs, targets, weights, augment_s = pending.result()
            if epoch + 1 < config.epochs:
                pending = pool.submit(epoch_inputs, epoch + 1)
            fit_started = time.perf_counter()
            history = model.fit(
                inputs,
                targets,
                sample_weight=weights,
                batch_size=config.batch_size,
                epochs=epoch + 1,
                initial_epoch=epoch,
                shuffle=True,
                verbose=0,
            )
            step = int(model.optimizer.iterations.numpy())
            log(
                f"epoch {epoch + 1}/{config.epochs}: "
                f"loss {history.history['loss'][-1]:.4f} "
                f"accuracy {history.history['accuracy'][-1]:.4f} "
                f"lr {float(schedule(step)):.2e} "
                f"({time.perf_counter() - fit_started:.1f} s fit, {augment_s:.1f} s augment, "
                f"{time.perf_counter() - started:.0f} s total)"
            )

    keras_path = out_dir / KERAS_NAME
    # A fresh uncompiled float32 copy has no optimizer state: the file is a third of the size.
    clean = build_mlp(config.hidden, config.dropout, n_classes)
    clean.set_weights(model.get_weights())
    clean.save(keras_path)
    export_weights(clean, out_dir / NPZ_NAME)
    write_checksums(out_dir)  # the model carries its own sums, checked when it is loaded

    if config.reject:
        rates = rejection_rates(out_dir / NPZ_NAME, engine="numpy", mnist=data)
        log(
            "held-out negatives from the test digits read as NOT_DIGIT: "
            + ", ".join(f"{kind} {rate:.3f}" for kind, rate in rates.items())
        )
    result = evaluate(out_dir / NPZ_NAME, mnist_path, engine="numpy", mnist=data)
    log(
        f"test accuracy {result.accuracy:.4f} ({len(data.y_test)} MNIST test digits, "
        f"{result.rejected} rejected as not a digit); wrote {keras_path} and "
        f"{out_dir / NPZ_NAME} in {time.perf_counter() - started:.0f} s"
    )
    return keras_path


def cpu_has_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AVX-512 BF16 or AMX), on Linux."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


# --- evaluation --------------------------------------------------------------------------


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

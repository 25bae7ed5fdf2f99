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
from notes_ocr.normalize import fit_to_mnist
from notes_ocr.recognizer import (
    ACTIVATIONS,
    MODEL_FORMAT,
    N_CLASSES,
    N_PIXELS,
    Recognizer,
    to_input,
)

if TYPE_CHECKING:
    import keras

# TensorFlow's C++ start-up notices (oneDNN, CPU features) are noise in a user's terminal.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

KERAS_NAME = "mlp.keras"
NPZ_NAME = "mlp.npz"


@dataclass
class TrainConfig:
    """Everything that decides the trained model; the defaults make the shipped one."""

    hidden: tuple[int, ...] = (1024, 1024)
    dropout: float = 0.2
    epochs: int = 80
    batch_size: int = 128
    learning_rate: float = 1e-3
    seed: int = 0
    augment: bool = True
    limit: int | None = None  # train on the first `limit` digits only (smoke tests)


# --- the model ---------------------------------------------------------------------------


def build_mlp(hidden: tuple[int, ...], dropout: float) -> keras.Model:
    """The recogniser's architecture, defined here only.

    784 pixels in [0, 1] -> (Dense relu -> Dropout) per ``hidden`` entry -> Dense softmax.
    Only Dense and Dropout layers: `export_weights` and the NumPy engine rely on that.
    """
    import keras

    pixels = keras.Input(shape=(N_PIXELS,), dtype="float32", name="pixels")
    x = pixels
    for index, units in enumerate(hidden):
        x = keras.layers.Dense(units, activation="relu", name=f"dense_{index}")(x)
        x = keras.layers.Dropout(dropout, name=f"dropout_{index}")(x)
    probabilities = keras.layers.Dense(N_CLASSES, activation="softmax", name="digits")(x)
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
    drawn = _restyle(warped, rng)
    drawn[drawn < FAINT] = 0
    out = np.empty_like(images)
    for i in range(count):
        fitted = fit_to_mnist(drawn[i])
        if not fitted.any():  # a thin digit may not survive erosion and binarization
            fitted = fit_to_mnist(np.where(images[i] < FAINT, 0, images[i]))
        out[i] = fitted
    return out


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
    drawn[binary] = np.where(drawn[binary] >= level[:, None, None], 255, 0)

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


# --- training ----------------------------------------------------------------------------

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

    Each epoch sees a fresh augmented copy of the training digits (made in a background
    thread while the previous epoch trains). Adam with a cosine-decayed learning rate.
    Logs one line per epoch and the test accuracy of the exported weights at the end.

    Returns the path of the .keras file.
    """
    import keras

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    data = load_mnist(mnist_path)
    digits = data.x_train[: config.limit]
    labels = data.y_train[: config.limit].astype(np.int64)
    log(
        f"training {config} on {len(digits)} digits from {data.source}; "
        f"{len(data.x_test)} test digits held out"
    )

    model = build_mlp(config.hidden, config.dropout)
    steps_per_epoch = math.ceil(len(digits) / config.batch_size)
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

    def epoch_inputs(epoch: int) -> tuple[np.ndarray, float]:
        started = time.perf_counter()
        images = digits
        if config.augment:
            rng = epoch_rngs[epoch]
            images = digits.copy()
            changed = rng.random(len(digits)) >= KEEP_ORIGINAL
            images[changed] = augment_digits(digits[changed], rng)
        return to_input(images), time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(epoch_inputs, 0) if config.epochs else None
        for epoch in range(config.epochs):
            inputs, augment_s = pending.result()
            if epoch + 1 < config.epochs:
                pending = pool.submit(epoch_inputs, epoch + 1)
            fit_started = time.perf_counter()
            history = model.fit(
                inputs,
                labels,
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
    # A fresh uncompiled copy has no optimizer state: the file is a third of the size.
    clean = build_mlp(config.hidden, config.dropout)
    clean.set_weights(model.get_weights())
    clean.save(keras_path)
    export_weights(clean, out_dir / NPZ_NAME)

    result = evaluate(out_dir / NPZ_NAME, mnist_path, engine="numpy", mnist=data)
    log(
        f"test accuracy {result.accuracy:.4f} ({len(data.y_test)} MNIST test digits); "
        f"wrote {keras_path} and {out_dir / NPZ_NAME} in {time.perf_counter() - started:.0f} s"
    )
    return keras_path


# --- evaluation --------------------------------------------------------------------------


@dataclass
class EvalResult:
    accuracy: float
    confusion: np.ndarray  # (10, 10) int64 counts, row = true digit, column = predicted


def evaluate(
    model_path: str | Path | None = None,
    mnist_path: str | Path | None = None,
    engine: str = "keras",
    *,
    mnist: Mnist | None = None,
) -> EvalResult:
    """Accuracy and confusion matrix of a model on the MNIST test set.

    ``model_path`` None is the shipped model; ``mnist`` an already loaded `Mnist` (it
    saves reading the file again).
    """
    recognizer = Recognizer.load(model_path, engine=engine)
    data = mnist if mnist is not None else load_mnist(mnist_path)
    truth = data.y_test.astype(np.int64)
    predicted, _ = recognizer.classify(data.x_test)
    confusion = np.bincount(truth * N_CLASSES + predicted, minlength=N_CLASSES * N_CLASSES).reshape(
        N_CLASSES, N_CLASSES
    )
    accuracy = float(np.trace(confusion) / max(1, confusion.sum()))
    return EvalResult(accuracy=accuracy, confusion=confusion)


def format_confusion(confusion: np.ndarray) -> str:
    """A confusion matrix as a text table: rows are true digits, columns predictions.

    The last column is each digit's recall, so the weak digits stand out.
    """
    confusion = np.asarray(confusion)
    width = max(4, len(str(int(confusion.max(initial=0)))) + 1)
    header = "true\\pred" + "".join(f"{d:>{width}}" for d in range(len(confusion))) + "  recall"
    lines = [header, "-" * len(header)]
    for digit, row in enumerate(confusion):
        total = int(row.sum())
        recall = f"{row[digit] / total:8.4f}" if total else "       -"
        cells = "".join(f"{int(n):>{width}}" for n in row)
        lines.append(f"{digit:>9}{cells}{recall}")
    return "\n".join(lines)

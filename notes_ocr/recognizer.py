"""The digit recogniser: MNIST-style 28x28 images -> digit labels and confidences.

Scanning uses the NumPy engine, a forward pass over the weights `training.export_weights`
wrote, so that it never imports TensorFlow (which takes seconds). The Keras engine runs the
saved .keras model itself; it exists to check the two agree and for `notes-ocr eval`.

The NumPy engine computes in exact arithmetic (see ``ExactLayer``): an image's probabilities
are a function of its pixels alone, to the last bit, whatever it is classified with (one
page or many, any ``--jobs``, after ``--resume``, on Ray), with any number of BLAS threads,
on any CPU.

Model files are data, never code: the .npz is read with ``allow_pickle=False`` and the
.keras file in Keras' safe mode. A SHA256SUMS file beside them (``sha256sum``'s format, as
training writes it) is checked when they are loaded; the shipped model must match its own.
"""

from __future__ import annotations

import hashlib
import os
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from notes_ocr.errors import ModelError
from notes_ocr.files import AtomicFile

MODEL_DIR = Path(__file__).resolve().parent / "models"
KERAS_NAME = "mlp.keras"
NPZ_NAME = "mlp.npz"
CHECKSUMS_NAME = "SHA256SUMS"
MODEL_FORMAT = "notes-ocr-mlp/1"  # written into every exported .npz, checked on load
ACTIVATIONS = ("relu", "softmax", "linear")
ENGINES = ("numpy", "keras")
IMAGE_SHAPE = (28, 28)
N_PIXELS = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
N_DIGITS = 10
# The optional 11th output: "not one whole digit" (two touching digits, a fragment, a stray
# mark). Segmentation hands the classifier such blobs, and without this class softmax can
# only spread them over the digits, often confidently.
NOT_DIGIT = 10
N_OUTPUTS = (N_DIGITS, N_DIGITS + 1)  # the output sizes a model may have
_OUTPUTS_TEXT = " or ".join(str(n) for n in N_OUTPUTS)
# Rows per forward pass: bounds the memory of the hidden activations (float64, 12 MiB a
# layer). Results do not depend on it.
BATCH = 1024
# The exact forward pass: every sum of products is of integers below 2**53, which float64
# holds exactly (see ExactLayer).
EXACT_BITS = 52
# Bits of each hidden activation's integer mantissa, relative to the largest in its row;
# the weights get the bits that are left (EXACT_BITS less these, less the sum's growth).
ACTIVATION_BITS = 21
PIXEL_BITS = 8  # the first layer's inputs are the uint8 pixels themselves


def check_images(images: np.ndarray) -> np.ndarray:
    """``images`` as an array, if they are uint8 (N, 28, 28) MNIST-style digits; else
    ValueError saying what they are."""
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise ValueError(f"expected images of shape (N, 28, 28), got shape {images.shape}")
    if images.dtype != np.uint8:
        raise ValueError(f"expected uint8 images (0-255, white ink on black), got {images.dtype}")
    return images


def to_input(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) images -> the model's (N, 784) float32 input in [0, 1].

    The one place pixels are scaled for Keras: training and the Keras engine go through it
    (the NumPy engine takes the pixels as they are and scales by the same 1/255).
    """
    images = check_images(images)
    return images.reshape(len(images), N_PIXELS).astype(np.float32) / np.float32(255)


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0, out=x)


def exact_softmax(x: np.ndarray) -> np.ndarray:
    """Softmax over the rows of float64 ``x`` that is the same to the last bit on any CPU.

    NumPy's exp and its sums take CPU-specific vector paths, which may round differently;
    here every step is one IEEE operation (each rounded the one correct way) or exact.
    """
    x = x - x.max(axis=1, keepdims=True)
    # exp(x) = 2**k * exp(r), with r = x - k ln 2 in [-ln 2 / 2, ln 2 / 2] (Cody and
    # Waite's split of ln 2, whose high part times k is exact), and exp(r) by its Taylor
    # series to r**13 / 13!, which leaves less than one part in 1e16.
    k = np.rint(x * 1.4426950408889634)
    r = (x - k * 6.93147180369123816490e-01) - k * 1.90821492927058770002e-10
    series = np.ones_like(r)
    for n in range(13, 0, -1):
        series = series * r * (1.0 / n) + 1.0
    # Far below the row's maximum the power underflows to 0, as the probability does.
    powers = np.ldexp(series, np.maximum(k, -2000).astype(np.int32))
    total = powers[:, 0].copy()
    for column in range(1, powers.shape[1]):  # one fixed order of additions
        total += powers[:, column]
    return powers / total[:, None]


_NUMPY_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "relu": _relu,
    "softmax": exact_softmax,
    "linear": lambda x: x,
}


@dataclass(frozen=True)
class ExactLayer:
    """A dense layer whose products BLAS computes exactly, in any order.

    BLAS picks its kernels and its split of the work by CPU, matrix shape and thread count,
    and each choice rounds a float32 sum differently: a page's probabilities then depended
    on what it was classified with and where. Blocks of one fixed shape are not enough:
    on AVX2 CPUs (AMD's, and Intel's before AVX-512) OpenBLAS rounds a row differently by
    its place in the block. So the weights are stored as integers, each column with a
    power-of-two scale (``column_scale``), and each row of inputs is made integers with a
    power-of-two scale of its own (`to_mantissas`); their sums of products stay below
    2**53, so float64 holds every partial sum exactly and the order of the additions cannot
    matter. Every other step is elementwise and rounded the one IEEE way. The rounding costs
    about a part in 2**21 of a row's largest activation (probabilities within 3e-6 of the
    float32 pass on MNIST test); float64 costs about twice float32's time.
    """

    weights: np.ndarray  # (inputs, units) float64 integers
    column_scale: np.ndarray  # (units,) powers of two: weights * column_scale ~ the kernel
    bias: np.ndarray  # (units,) float64
    activation: str

    @classmethod
    def from_kernel(
        cls, kernel: np.ndarray, bias: np.ndarray, activation: str, input_bits: int
    ) -> ExactLayer:
        """The layer for float weights whose inputs will be integers below 2**input_bits."""
        growth = int(np.ceil(np.log2(max(kernel.shape[0], 2))))  # a sum of that many terms
        bits = EXACT_BITS - input_bits - growth
        if bits < 8:
            raise ValueError(f"a layer of {kernel.shape[0]} inputs is too wide to sum exactly")
        _, exponent = np.frexp(np.abs(kernel).max(axis=0))  # each column's largest < 2**exponent
        column_scale = np.ldexp(1.0, exponent - bits)
        weights = np.rint(kernel.astype(np.float64) / column_scale)
        return cls(weights, column_scale, bias.astype(np.float64), activation)

    def __call__(self, mantissas: np.ndarray, row_scale: np.ndarray) -> np.ndarray:
        """The layer's float64 output for inputs ``mantissas * row_scale``."""
        x = mantissas @ self.weights  # exact
        x *= self.column_scale  # a power of two: exact too
        x *= row_scale
        x += self.bias
        return _NUMPY_ACTIVATIONS[self.activation](x)


def to_mantissas(x: np.ndarray, bits: int = ACTIVATION_BITS) -> tuple[np.ndarray, np.ndarray]:
    """Float64 rows -> (integers of at most ``bits`` bits, (N, 1) power-of-two row scales)
    whose products approximate them; a function of each row alone. Overwrites ``x``."""
    _, exponent = np.frexp(np.abs(x).max(axis=1, keepdims=True))  # the row's largest < 2**e
    scale = np.ldexp(1.0, bits - exponent)
    x *= scale  # exact: a power of two
    return np.rint(x, out=x), 1 / scale


def exact_forward(layers: list[ExactLayer]) -> Callable[[np.ndarray], np.ndarray]:
    """The forward pass over ``layers``: uint8 (N, 784) pixels -> float32 probabilities."""

    def forward(pixels: np.ndarray) -> np.ndarray:
        x = layers[0](pixels.astype(np.float64), np.float64(1 / 255))
        for layer in layers[1:]:
            x = layer(*to_mantissas(x))
        return x.astype(np.float32)

    return forward


class Recognizer:
    """A loaded model. Build it with `Recognizer.load`."""

    def __init__(
        self,
        forward: Callable[[np.ndarray], np.ndarray],
        path: Path,
        engine: str,
        n_outputs: int = N_DIGITS,
    ):
        self._forward = forward  # (n, 784) uint8 pixels -> (n, n_outputs) probabilities
        self.path = path
        self.engine = engine
        self.n_outputs = n_outputs  # 10, or 11 when the model has the NOT_DIGIT class

    @property
    def rejects(self) -> bool:
        """Whether the model can say a blob is not one whole digit (has NOT_DIGIT)."""
        return self.n_outputs > NOT_DIGIT

    def __repr__(self) -> str:
        return f"Recognizer(path={str(self.path)!r}, engine={self.engine!r})"

    @classmethod
    def load(cls, path: str | Path | None = None, engine: str = "numpy") -> Recognizer:
        """Load a model for ``engine`` ("numpy" or "keras").

        ``path`` is a directory holding mlp.npz / mlp.keras, or one of those files (the
        engine's own file is looked for beside it, under the same name); None is the model
        shipped in notes_ocr/models. Raises ModelError, one line naming the file, when it is
        missing, damaged or not a notes-ocr model.
        """
        if engine not in ENGINES:
            raise ValueError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")
        file = _model_file(MODEL_DIR if path is None else Path(path), engine)
        # The shipped model must match the sums shipped with it; another is checked when
        # it has a SHA256SUMS beside it (training writes one).
        verify_checksum(file, required=path is None)
        load = _load_npz if engine == "numpy" else _load_keras
        forward, n_outputs = load(file)
        return cls(forward, file, engine, n_outputs)

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """(N, n_outputs) float32 probabilities for uint8 (N, 28, 28) images.

        Columns 0-9 are the digits; an 11-output model adds column NOT_DIGIT. Rows sum to 1.
        With the NumPy engine a row depends on its image alone (see ExactLayer).
        """
        pixels = check_images(images).reshape(len(images), N_PIXELS)
        probabilities = np.empty((len(pixels), self.n_outputs), np.float32)
        for start in range(0, len(pixels), BATCH):
            probabilities[start : start + BATCH] = self._forward(pixels[start : start + BATCH])
        return probabilities

    def classify(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The most likely digit of each image and its probability.

        Returns (labels, confidences): int64 (N,) digits 0-9 and float32 (N,). The label is
        always a digit, even where NOT_DIGIT is likelier; the confidence is that digit's own
        probability, not renormalized over the digits, so a blob the model takes for two
        digits or a stray mark gets a low confidence.
        """
        labels, confidences, _ = self.read(images)
        return labels, confidences

    def digit_probability(self, images: np.ndarray) -> np.ndarray:
        """(N,) float32 probability that each image is one whole digit: 1 - P(NOT_DIGIT).

        All ones for a 10-output model, which cannot tell.
        """
        return self.read(images)[2]

    def read(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``classify`` and ``digit_probability`` from one forward pass."""
        return self.interpret(self.predict_proba(images))

    def interpret(self, probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(labels, confidences, digit probability) from ``predict_proba``'s output."""
        probabilities = np.asarray(probabilities, np.float32).reshape(-1, self.n_outputs)
        labels = probabilities[:, :N_DIGITS].argmax(axis=1)
        confidences = probabilities[np.arange(len(labels)), labels]
        if self.rejects:
            whole = np.clip(1.0 - probabilities[:, NOT_DIGIT], 0.0, 1.0)
        else:
            whole = np.ones(len(probabilities))
        return labels.astype(np.int64), confidences.astype(np.float32), whole.astype(np.float32)


# --- checksums -------------------------------------------------------------------------------

# A line of ``sha256sum``'s output: the digest, a space, a space or "*", the file name.
CHECKSUM_LINE = re.compile(r"([0-9a-fA-F]{64}) [ *](.+)")


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, in hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_checksums(folder: str | Path, names: tuple[str, ...] = (NPZ_NAME, KERAS_NAME)) -> Path:
    """Write ``folder``/SHA256SUMS for the model files ``names`` there (those that exist),
    in ``sha256sum``'s format, so that loading them checks they are the files written.

    Run after training or after replacing the shipped model on purpose:
    ``python -c "from notes_ocr.recognizer import write_checksums as w; w('notes_ocr/models')"``
    (or ``sha256sum mlp.npz mlp.keras > SHA256SUMS`` in that folder).
    """
    folder = Path(folder)
    lines = [f"{file_sha256(folder / name)}  {name}\n" for name in names
             if (folder / name).is_file()]
    path = folder / CHECKSUMS_NAME
    with AtomicFile(path) as file:
        file.write("".join(lines))
    return path


def read_checksums(path: Path) -> dict[str, str]:
    """File name -> SHA-256 from a SHA256SUMS file; ModelError if it is not one."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path}: cannot read the model's checksums ({exc})") from None
    sums = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        found = CHECKSUM_LINE.fullmatch(line.strip())
        if found is None:
            raise ModelError(f"{path}: line {number} is not a SHA-256 checksum line")
        sums[found.group(2)] = found.group(1).lower()
    return sums


def verify_checksum(file: Path, required: bool) -> None:
    """ModelError unless ``file`` has the SHA-256 that SHA256SUMS beside it gives. With
    ``required`` a missing SHA256SUMS, or a file it does not list, fails as well; without,
    there is then nothing to check."""
    sums_path = file.parent / CHECKSUMS_NAME
    if not sums_path.is_file():
        if required:
            raise ModelError(f"{file}: no {CHECKSUMS_NAME} beside it to check it against "
                             "(reinstall notes-ocr)")
        return
    expected = read_checksums(sums_path).get(file.name)
    if expected is None:
        if required:
            raise ModelError(f"{file}: not listed in {sums_path} (reinstall notes-ocr)")
        return
    try:
        actual = file_sha256(file)
    except OSError as exc:
        raise ModelError(f"{file}: cannot read ({exc.strerror or exc})") from None
    if actual != expected:
        raise ModelError(
            f"{file}: damaged or replaced: its SHA-256 {actual[:12]}... is not the "
            f"{expected[:12]}... that {CHECKSUMS_NAME} beside it gives"
        )


def _model_file(path: Path, engine: str) -> Path:
    """The file ``engine`` reads for a model named by a directory or either of its files."""
    suffix = ".npz" if engine == "numpy" else ".keras"
    if path.is_dir():
        file = path / (NPZ_NAME if engine == "numpy" else KERAS_NAME)
    elif path.suffix in (".npz", ".keras"):
        file = path.with_suffix(suffix)
    elif not path.exists():
        raise ModelError(f"{path}: no such model file or directory")
    else:
        raise ModelError(f"{path}: not a model file (expected a directory, .npz or .keras)")
    if not file.is_file():
        if file != path and path.is_file():
            raise ModelError(
                f"{file}: no such model file (the {engine} engine reads the {suffix} "
                f"beside {path.name})"
            )
        raise ModelError(f"{file}: no such model file")
    return file


def _load_npz(file: Path) -> tuple[Callable[[np.ndarray], np.ndarray], int]:
    """Read exported weights and check they chain 784 -> ... -> 10 or 11 probabilities.

    Returns the forward pass and the number of outputs.
    """
    try:
        with np.load(file, allow_pickle=False) as npz:
            names = set(npz.files)
            if "format" not in names or str(npz["format"]) != MODEL_FORMAT:
                raise ModelError(f"{file}: not a notes-ocr model (no '{MODEL_FORMAT}' format)")
            activations = npz["activations"]
            if activations.ndim != 1 or activations.dtype.kind != "U":
                raise ModelError(f"{file}: not a notes-ocr model (its activations are not a "
                                 "list of names)")
            layers = [
                (
                    weights(npz, f"kernel_{i}", file),
                    weights(npz, f"bias_{i}", file),
                    str(activation),
                )
                for i, activation in enumerate(activations)
            ]
    except ModelError:
        raise
    except Exception as exc:  # numpy, zipfile and zlib raise many types for a damaged file
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelError(f"{file}: damaged model file ({reason})") from None

    width = N_PIXELS
    for index, (kernel, bias, activation) in enumerate(layers):
        if kernel.ndim != 2 or kernel.shape[0] != width or bias.shape != kernel.shape[1:]:
            raise ModelError(
                f"{file}: layer {index} has kernel {kernel.shape} and bias {bias.shape}, "
                f"expected ({width}, units) and (units,)"
            )
        if activation not in _NUMPY_ACTIVATIONS:
            raise ModelError(f"{file}: layer {index} has unknown activation {activation!r}")
        width = kernel.shape[1]
    if not layers or width not in N_OUTPUTS or layers[-1][2] != "softmax":
        raise ModelError(f"{file}: the model does not end in {_OUTPUTS_TEXT} softmax outputs")

    exact = []
    input_bits = PIXEL_BITS
    for index, (kernel, bias, activation) in enumerate(layers):
        try:
            exact.append(ExactLayer.from_kernel(kernel, bias, activation, input_bits))
        except ValueError as exc:
            raise ModelError(f"{file}: layer {index}: {exc}") from None
        input_bits = ACTIVATION_BITS
    return exact_forward(exact), width


def weights(npz: np.lib.npyio.NpzFile, name: str, file: Path) -> np.ndarray:
    """The float32 array ``name`` of a model's .npz; ModelError if it is not real numbers."""
    array = npz[name]
    if array.dtype.kind != "f":
        raise ModelError(f"{file}: {name} holds {array.dtype} values, not floating point")
    array = array.astype(np.float32)
    if not np.isfinite(array).all():
        raise ModelError(f"{file}: {name} holds values that are not finite numbers")
    return array


def import_keras() -> Any:
    """The ``keras`` module, its TensorFlow told first to keep its C++ start-up notices
    (oneDNN, CPU features) out of a user's terminal. ImportError without Keras."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    return keras


def _load_keras(file: Path) -> tuple[Callable[[np.ndarray], np.ndarray], int]:
    """Load a .keras model (importing Keras only now) and check its input and output.

    Returns the forward pass and the number of outputs.
    """
    # Keras reports a damaged archive as "file not found": say what is wrong instead.
    if not zipfile.is_zipfile(file):
        raise ModelError(f"{file}: damaged model file (not a .keras zip archive)")
    try:
        keras = import_keras()
    except ImportError:
        raise ModelError(
            f"{file}: the keras engine needs Keras (pip install 'notes-ocr[train]')"
        ) from None
    try:
        model = keras.saving.load_model(file, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many types for damaged or foreign files
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{file}: cannot load Keras model ({reason})") from None
    try:
        input_shape, output_shape = tuple(model.input_shape), tuple(model.output_shape)
    except (AttributeError, ValueError, TypeError):
        input_shape = output_shape = ()
    expected_outputs = [(None, n) for n in N_OUTPUTS]
    if input_shape != (None, N_PIXELS) or output_shape not in expected_outputs:
        raise ModelError(
            f"{file}: not a notes-ocr model (input {input_shape}, output {output_shape}; "
            f"expected (None, {N_PIXELS}) and (None, {_OUTPUTS_TEXT}))"
        )

    def forward(pixels: np.ndarray) -> np.ndarray:
        inputs = to_input(pixels.reshape(len(pixels), *IMAGE_SHAPE))
        return np.asarray(model.predict_on_batch(inputs), dtype=np.float32)

    return forward, output_shape[1]

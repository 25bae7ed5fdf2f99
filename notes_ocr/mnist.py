"""Loading MNIST in Keras' layout, from a file the user names or the ones we know of."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from notes_ocr.errors import DataError

KEYS = ("x_train", "y_train", "x_test", "y_test")


@dataclass(frozen=True)
class Mnist:
    x_train: np.ndarray  # (60000, 28, 28) uint8, white ink on black
    y_train: np.ndarray  # (60000,) uint8
    x_test: np.ndarray  # (10000, 28, 28) uint8
    y_test: np.ndarray  # (10000,) uint8
    source: str


def candidate_paths() -> list[Path]:
    """Where MNIST is looked for when no path is given, in order."""
    repo_data = Path(__file__).resolve().parent.parent / "data" / "mnist.npz"
    return [
        Path("data/mnist.npz"),
        repo_data,
        Path.home() / ".keras" / "datasets" / "mnist.npz",
    ]


def read_npz(path: Path) -> Mnist:
    """Read an ``mnist.npz`` in Keras' layout; raise DataError on anything else."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [key for key in KEYS if key not in npz.files]
            if missing:
                raise DataError(f"{path}: not an MNIST file (missing {', '.join(missing)})")
            arrays = {key: npz[key] for key in KEYS}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"{path}: cannot read MNIST ({exc})") from None
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or x.shape[1:] != (28, 28) or len(x) != len(y):
            raise DataError(f"{path}: {split} split has shapes {x.shape} and {y.shape}")
    return Mnist(**arrays, source=str(path))


def load_mnist(path: str | Path | None = None) -> Mnist:
    """MNIST from ``path``, else ``data/mnist.npz``, else Keras' cache, else Keras' download.

    Raises DataError with one line saying what was tried when none works.
    """
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path}: no such MNIST file")
        return read_npz(path)
    for candidate in candidate_paths():
        if candidate.is_file():
            return read_npz(candidate)
    try:
        from keras.datasets import mnist  # downloads into Keras' cache

        (x_train, y_train), (x_test, y_test) = mnist.load_data()
    except Exception as exc:  # no Keras, no network, a broken cache: all the same to the user
        tried = ", ".join(str(p) for p in candidate_paths())
        raise DataError(
            f"MNIST not found (tried {tried} and a Keras download: {type(exc).__name__}); "
            "pass a path to mnist.npz"
        ) from None
    return Mnist(x_train, y_train, x_test, y_test, source="keras.datasets.mnist")

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from notes_ocr.mnist import Mnist, load_mnist


@pytest.fixture(scope="session")
def mnist() -> Mnist:
    return load_mnist()


def pen_digit(digit: np.ndarray, height: int) -> np.ndarray:
    """An MNIST digit redrawn as a crisp binary pen stroke ``height`` pixels tall."""
    import cv2

    rows = np.flatnonzero(digit.max(axis=1) > 40)
    cols = np.flatnonzero(digit.max(axis=0) > 40)
    crop = digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    scale = height / crop.shape[0]
    width = max(1, round(crop.shape[1] * scale))
    return cv2.resize(crop, (width, height), interpolation=cv2.INTER_CUBIC) > 127


def run_cli(*args: str, text: bool = True) -> subprocess.CompletedProcess:
    """``notes-ocr ARGS`` in a process of its own; output as bytes when not ``text`` (names
    that are not UTF-8)."""
    return subprocess.run([sys.executable, "-m", "notes_ocr", *args], capture_output=True,
                          text=text, timeout=300)


def make_pdf(path: Path, pages: list[np.ndarray]) -> None:
    """A PDF holding each image as a page, the way scanners save to PDF (via Pillow)."""
    import cv2
    from PIL import Image

    images = [Image.fromarray(cv2.cvtColor(page, cv2.COLOR_BGR2RGB)) for page in pages]
    images[0].save(path, save_all=True, append_images=images[1:], resolution=150)

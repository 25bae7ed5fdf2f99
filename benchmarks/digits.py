"""Digit benchmark: the recogniser on MNIST test digits redrawn as pen strokes.

    python -m benchmarks.digits [--model PATH] [--engine keras] [--count 10000]

Separates the classifier from segmentation: each MNIST test digit is drawn as a pen stroke
(``notes_ocr.testing.synth.render_digit``) at a random size, pen width, slant and rotation, cut
out as a binary blob at half coverage, normalised by the scanner's own ``normalize_blob``,
and classified. Printed beside the accuracy on the original MNIST test images.
"""

from __future__ import annotations

import argparse

import numpy as np

from notes_ocr.mnist import load_mnist
from notes_ocr.normalize import normalize_blob
from notes_ocr.recognizer import ENGINES, Recognizer
from notes_ocr.testing.synth import render_digit


def pen_digits(digits: np.ndarray, seed: int = 7) -> np.ndarray:
    """The digits redrawn as scanned pen strokes and normalised as the scanner does."""
    rng = np.random.default_rng(seed)
    out = np.empty((len(digits), 28, 28), np.uint8)
    for i, digit in enumerate(digits):
        height = rng.uniform(24, 90)
        ink = render_digit(
            digit,
            height,
            angle_degrees=rng.uniform(-5, 5),
            slant_degrees=float(np.clip(rng.normal(0, 5), -12, 12)),
            pen_width_px=height * rng.uniform(0.06, 0.2),
        )
        out[i] = normalize_blob(ink >= 0.5)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model file or folder (default: shipped)")
    parser.add_argument("--engine", choices=ENGINES, default="numpy")
    parser.add_argument("--count", type=int, default=10000)
    args = parser.parse_args(argv)
    mnist = load_mnist()
    x, y = mnist.x_test[: args.count], mnist.y_test[: args.count]
    recognizer = Recognizer.load(args.model, engine=args.engine)
    plain = float(np.mean(recognizer.classify(x)[0] == y))
    pen = float(np.mean(recognizer.classify(pen_digits(x))[0] == y))
    print(f"MNIST test accuracy {plain:.4f}; as pen strokes {pen:.4f} ({len(y)} digits)")


if __name__ == "__main__":
    main()

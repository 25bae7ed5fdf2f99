import numpy as np
import pytest
from conftest import pen_digit

from notes_ocr.normalize import (
    MNIST_STROKE_RATIO,
    fit_to_mnist,
    match_stroke_width,
    normalize_blob,
    stroke_width,
)


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    weights = image.astype(float)
    total = weights.sum()
    ys, xs = np.indices(image.shape)
    return float((ys * weights).sum() / total), float((xs * weights).sum() / total)


def ink_box(image: np.ndarray) -> tuple[int, int]:
    rows = np.flatnonzero(image.any(axis=1))
    cols = np.flatnonzero(image.any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


@pytest.mark.parametrize("height", [12, 40, 97, 240])
def test_fit_to_mnist_centres_mass_and_fits_twenty(mnist, height):
    for digit in mnist.x_test[:50]:
        out = fit_to_mnist(pen_digit(digit, height))
        assert out.shape == (28, 28) and out.dtype == np.uint8
        com_y, com_x = centre_of_mass(out)
        assert abs(com_y - 13.5) <= 0.5 and abs(com_x - 13.5) <= 0.5
        assert max(ink_box(out)) in (19, 20)
        assert out.max() == 255


def test_tall_thin_stroke_keeps_its_aspect():
    stroke = np.zeros((100, 12), bool)
    stroke[:, 3:9] = True
    out = fit_to_mnist(stroke)
    height, width = ink_box(out)
    assert height == 20 and width <= 3


def test_empty_blob_gives_black_image():
    assert not fit_to_mnist(np.zeros((10, 10), bool)).any()


def test_stroke_ratio_matches_mnist(mnist):
    # MNIST digits drawn large and re-thresholded: their stroke width over their longer side.
    ratios = []
    for digit in mnist.x_train[:300]:
        mask = pen_digit(digit, 112)
        ratios.append(stroke_width(mask) / max(mask.shape))
    assert abs(np.median(ratios) - MNIST_STROKE_RATIO) < 0.015


def test_match_stroke_width_thickens_a_fine_pen(mnist):
    from skimage.morphology import skeletonize

    thin = skeletonize(pen_digit(mnist.x_test[0], 120))  # a one-pixel pen line
    redrawn = match_stroke_width(thin)
    ratio = stroke_width(redrawn) / max(redrawn.shape)
    assert abs(ratio - MNIST_STROKE_RATIO) < 0.04
    assert normalize_blob(thin).max() == 255

"""Blob -> MNIST-style 28x28 digit image.

MNIST was made from binary NIST scans: each digit was fitted into a 20x20 box keeping its
aspect ratio (the resampling anti-aliases it into grey levels), then placed in a 28x28 field
so that its centre of mass sits at the centre. The recogniser only ever saw digits made that
way, so every blob the scanner finds is made that way too, and so are the training digits.
"""

from __future__ import annotations

import cv2
import numpy as np

MNIST_SIZE = 28
MNIST_BOX = 20
# Mean stroke width of MNIST training digits relative to the longer side of their ink box,
# measured with `stroke_width` on x_train (see tests/test_normalize.py).
MNIST_STROKE_RATIO = 0.14
# Blobs longer than this (px) have their strokes matched on a copy shrunk to it.
MAX_STROKE_SIDE = 160


def fit_to_mnist(ink: np.ndarray, box: int = MNIST_BOX, size: int = MNIST_SIZE) -> np.ndarray:
    """Fit a digit's ink into a ``box`` square and centre it by mass in a ``size`` square.

    Parameters
    ----------
    ink : (H, W) array
        Ink intensity, any dtype; zero is background. Typically a boolean blob mask at scan
        resolution.
    box : int
        The longer side of the ink's bounding box after scaling.
    size : int
        Side of the output image.

    Returns
    -------
    (size, size) uint8 array, white ink on black; all zeros when ``ink`` has none.
    """
    ink = np.asarray(ink)
    if ink.ndim != 2:
        raise ValueError(f"expected a 2-D ink image, got shape {ink.shape}")
    # OpenCV's bounding box of the nonzero pixels: faster than two numpy projections, and
    # this runs for every candidate digit.
    nonzero = ink.view(np.uint8) if ink.dtype == bool else (ink != 0).view(np.uint8)
    ink_x, ink_y, width, height = cv2.boundingRect(nonzero)
    if width == 0:
        return np.zeros((size, size), np.uint8)
    crop = ink[ink_y : ink_y + height, ink_x : ink_x + width].astype(np.float32)
    scale = box / max(height, width)
    new_h = max(1, round(height * scale))
    new_w = max(1, round(width * scale))
    # INTER_AREA averages the source pixels under each target pixel: the anti-aliasing that
    # turned NIST's binary scans into MNIST's grey levels. Enlarging tiny blobs falls back
    # to bilinear, which is also smooth.
    resized = cv2.resize(crop, (new_w, new_h), interpolation=cv2.INTER_AREA)
    peak = float(resized.max())
    if peak <= 0:
        return np.zeros((size, size), np.uint8)
    # Quantise before measuring the centre of mass, so the shift is exact for the output.
    resized = np.rint(resized * (255.0 / peak))

    # Centre of mass to the field's centre by a whole-pixel shift, as MNIST did: a sub-pixel
    # shift would blur the strokes. The error is then at most half a pixel on each axis.
    total = resized.sum()
    com_y = (resized.sum(axis=1) @ np.arange(new_h)) / total
    com_x = (resized.sum(axis=0) @ np.arange(new_w)) / total
    centre = (size - 1) / 2
    top = int(np.floor(centre - com_y + 0.5))
    left = int(np.floor(centre - com_x + 0.5))
    out = np.zeros((size, size), np.uint8)  # the quantised levels are whole numbers
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + new_h, size), min(left + new_w, size)
    if y1 > y0 and x1 > x0:
        out[y0:y1, x0:x1] = resized[y0 - top : y1 - top, x0 - left : x1 - left]
    return out


def skeleton_length(mask: np.ndarray) -> int:
    """The number of pixels in a binary shape's skeleton: the length of its strokes."""
    from skimage.morphology import skeletonize

    return int(skeletonize(np.asarray(mask, dtype=bool)).sum())


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width of a binary shape: its area over the length of its skeleton."""
    area = int(np.count_nonzero(mask))
    if area == 0:
        return 0.0
    return area / max(skeleton_length(mask), 1)


def match_stroke_width(
    mask: np.ndarray, ratio: float = MNIST_STROKE_RATIO, width: float | None = None
) -> np.ndarray:
    """Thicken or thin a blob's strokes to ``ratio`` times its longer side.

    A fine pen on a large digit gives strokes far thinner, relative to the digit, than
    MNIST's; a marker gives fatter ones. The classifier is most reliable on MNIST's
    proportions, so the blob is redrawn at them before it is scaled down. ``width`` is the
    blob's stroke width when the caller knows it (`stroke_width` by default).
    """
    mask = np.asarray(mask, dtype=bool)
    _, _, box_w, box_h = cv2.boundingRect(mask.view(np.uint8))
    if box_w == 0:
        return mask
    longer = max(box_w, box_h)
    current = stroke_width(mask) if width is None else width
    target = ratio * longer
    # Dilation by a disk of radius r widens a stroke by about 2r; stay within a pixel.
    radius = round((target - current) / 2)
    if radius == 0:
        return mask
    pad = abs(radius) + 1
    # OpenCV's border is several times faster than np.pad, and this runs per candidate.
    padded = cv2.copyMakeBorder(np.ascontiguousarray(mask).view(np.uint8), pad, pad, pad, pad,
                                cv2.BORDER_CONSTANT, value=0)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(radius) + 1,) * 2)
    if radius > 0:
        out = cv2.dilate(padded, kernel)
    else:
        out = cv2.erode(padded, kernel)
        if not out.any():  # never erase the digit: keep the thinnest version instead
            return mask
    return out[pad:-pad, pad:-pad].astype(bool)


def normalize_blob(
    mask: np.ndarray, ratio: float | None = MNIST_STROKE_RATIO, width: float | None = None
) -> np.ndarray:
    """A segmented blob mask -> MNIST-style 28x28 uint8 digit image.

    ``width``: the blob's stroke width, when known (see `match_stroke_width`).
    """
    mask = np.asarray(mask, dtype=bool)
    longer = max(mask.shape, default=0)
    if ratio is not None and longer > MAX_STROKE_SIDE:
        # Redrawing the strokes of a huge blob (a close-up, or a page of noise) would dilate
        # it by a disk as huge, for seconds; it ends up 20 px anyway. Every pixel the ink
        # touches is kept, and the strokes are then matched at the smaller size.
        factor = MAX_STROKE_SIDE / longer
        size = (max(1, round(mask.shape[1] * factor)), max(1, round(mask.shape[0] * factor)))
        mask = cv2.resize(mask.view(np.uint8), size, interpolation=cv2.INTER_AREA) > 0
        width = None if width is None else width * factor
    if ratio is not None:
        mask = match_stroke_width(mask, ratio, width)
    return fit_to_mnist(mask)

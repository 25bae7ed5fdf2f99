"""The synthetic note pages: deterministic, truthful, and drawn on the paper they claim."""

from __future__ import annotations

import re
from dataclasses import replace

import cv2
import numpy as np
import pytest

from benchmarks.synth import (
    PAPERS,
    PageSpec,
    make_page,
    random_spec,
    render_digit,
    write_page,
)
from notes_ocr.errors import DataError
from notes_ocr.mnist import load_mnist

# Small pages (A5 at 150 dpi) keep the tests quick.
SMALL = PageSpec(width=874, height=1240, dpi=150.0, digit_height_px=30, pen_width_px=3.0)
LINE_FORMAT = re.compile(r"\d{1,8}( \d{1,8}){0,3}")


@pytest.fixture(scope="module")
def mnist():
    try:
        return load_mnist()
    except DataError as exc:
        pytest.skip(f"MNIST not available: {exc}")


def render(mnist, **changes) -> object:
    """A page like SMALL with ``changes``, from MNIST test digits."""
    return make_page(replace(SMALL, **changes), mnist.x_test, mnist.y_test)


def gray(page) -> np.ndarray:
    return cv2.cvtColor(page.image, cv2.COLOR_BGR2GRAY).astype(np.float32)


def line_centers(profile: np.ndarray, depth: float) -> np.ndarray:
    """Centers of the runs where ``profile`` dips more than ``depth`` below its median."""
    dark = profile < np.median(profile) - depth
    edges = np.flatnonzero(np.diff(np.concatenate([[0], dark.astype(np.int8), [0]])))
    starts, stops = edges[::2], edges[1::2]
    return (starts + stops - 1) / 2


SPECS = [
    {"paper": "plain", "ink": "black", "seed": 1},
    {"paper": "ruled", "ink": "blue", "margin_line": True, "tilt_degrees": 1.5, "seed": 2},
    {"paper": "grid", "ink": "pencil", "tilt_degrees": -2.5, "noise": 4.0, "seed": 3},
    {"paper": "plain", "ink": "blue", "tilt_degrees": 3.0, "lighting": 0.3, "shadow": 0.4,
     "blur": 0.8, "jpeg_quality": 70, "seed": 4},
]  # fmt: skip


def test_same_seed_same_page(mnist) -> None:
    a = render(mnist, paper="ruled", tilt_degrees=1.0, jpeg_quality=85, seed=11)
    b = render(mnist, paper="ruled", tilt_degrees=1.0, jpeg_quality=85, seed=11)
    assert np.array_equal(a.image, b.image)
    assert a.lines == b.lines
    assert a.digit_boxes == b.digit_boxes
    c = render(mnist, paper="ruled", tilt_degrees=1.0, jpeg_quality=85, seed=12)
    assert c.lines != a.lines


@pytest.mark.parametrize("changes", SPECS)
def test_truth_lines_and_boxes(mnist, changes) -> None:
    page = render(mnist, **changes)
    h, w = page.image.shape[:2]
    assert page.image.shape == (SMALL.height, SMALL.width, 3)
    assert page.image.dtype == np.uint8
    assert 1 <= len(page.lines) <= SMALL.n_lines
    assert len(page.digit_boxes) == len(page.lines)
    background = np.median(gray(page))
    for text, boxes in zip(page.lines, page.digit_boxes, strict=True):
        assert LINE_FORMAT.fullmatch(text), text
        assert len(boxes) == len(text.replace(" ", ""))
        for x, y, bw, bh in boxes:
            assert 0 <= x and 0 <= y and bw > 0 and bh > 0
            assert x + bw <= w and y + bh <= h
            ink = gray(page)[y : y + bh, x : x + bw]
            # Even light pencil under shadow is well below the paper somewhere in the box.
            assert ink.min() < 0.7 * background, (text, (x, y, bw, bh))


def test_spacing_matches_the_text(mnist) -> None:
    # Untilted, the boxes are the placement boxes: gaps tell groups apart, digits never overlap.
    dh = SMALL.digit_height_px
    for seed in range(5):
        page = render(mnist, paper="plain", seed=seed)
        bottoms = []
        for text, boxes in zip(page.lines, page.digit_boxes, strict=True):
            groups = text.split()
            starts_group = [i > 0 and j == 0 for i, g in enumerate(groups) for j in range(len(g))]
            for (x0, _, w0, _), (x1, _, _, _), new_group in zip(
                boxes[:-1], boxes[1:], starts_group[1:], strict=True
            ):
                gap = x1 - (x0 + w0)
                if new_group:
                    assert gap >= 0.8 * dh - 1
                else:
                    assert 1 <= gap <= 0.3 * dh
            bottoms.append(np.median([y + h for _, y, _, h in boxes]))
        assert np.all(np.diff(bottoms) >= 1.4 * dh)


def test_ruled_paper_has_evenly_spaced_lines(mnist) -> None:
    page = render(mnist, paper="ruled", noise=0.5, specks=0, seed=5)
    # A printed line darkens most of its row; digits only a few columns of it.
    centers = line_centers(np.median(gray(page), axis=1), depth=6)
    assert len(centers) >= 10
    pitch = np.diff(centers)
    mm_per_px = 25.4 / SMALL.dpi
    assert 7.8 <= np.median(pitch) * mm_per_px <= 9.2
    assert np.abs(pitch - np.median(pitch)).max() <= 1.5


def test_grid_paper_has_squares(mnist) -> None:
    page = render(mnist, paper="grid", noise=0.5, specks=0, seed=6)
    mm_per_px = 25.4 / SMALL.dpi
    for axis in (0, 1):
        centers = line_centers(np.median(gray(page), axis=1 - axis), depth=4)
        assert len(centers) >= 20
        assert 4.8 <= np.median(np.diff(centers)) * mm_per_px <= 5.2


def test_plain_paper_has_no_lines(mnist) -> None:
    page = render(mnist, paper="plain", noise=0.5, seed=7)
    assert len(line_centers(np.median(gray(page), axis=1), depth=6)) == 0


def test_margin_line_is_red(mnist) -> None:
    page = render(mnist, paper="ruled", margin_line=True, noise=0.5, specks=0, seed=8)
    g, r = (page.image[..., c].astype(np.float32) for c in (1, 2))
    redness = np.median(r - g, axis=0)  # per column, so digits don't count
    column = int(np.argmax(redness))
    assert redness[column] > 15
    assert 15 <= column * 25.4 / SMALL.dpi <= 35


def test_digit_strokes_are_crisp(mnist) -> None:
    digit = mnist.x_test[0]
    coverage = render_digit(digit, 60, pen_width_px=5)
    # The ink box is cut at a faint MNIST level but drawn at half intensity: a little shorter.
    assert 50 <= coverage.shape[0] <= 62
    # A pen stroke is solid inside with a one-pixel anti-aliased edge; an enlarged MNIST
    # digit is mostly gray ramp (about three times more partial pixels than solid ones).
    solid = (coverage > 0.98).sum()
    partial = ((coverage > 0.02) & (coverage < 0.98)).sum()
    assert solid > 1.5 * partial
    assert (coverage > 0.02).mean() < 0.5


def test_random_spec_is_valid() -> None:
    rng = np.random.default_rng(0)
    for kind in PAPERS * 4:
        spec = random_spec(rng, kind)
        assert spec.paper == kind
        assert spec.width < spec.height
        assert abs(spec.tilt_degrees) <= 3
        assert spec.pen_width_px < 0.2 * spec.digit_height_px
    assert random_spec(np.random.default_rng(1), "grid") == random_spec(
        np.random.default_rng(1), "grid"
    )
    with pytest.raises(ValueError):
        random_spec(rng, "dotted")
    with pytest.raises(ValueError):
        PageSpec(ink="red")


def test_write_page(mnist, tmp_path) -> None:
    page = render(mnist, seed=9)
    png = write_page(page, tmp_path / "page.png")
    assert np.array_equal(cv2.imread(str(png)), page.image)
    jpg = write_page(page, tmp_path / "page.jpg", jpeg_quality=80)
    back = cv2.imread(str(jpg)).astype(np.float32)
    assert np.abs(back - page.image).mean() < 3
    with pytest.raises(ValueError):
        write_page(page, tmp_path / "page.tiff")

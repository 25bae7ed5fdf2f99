"""Synthetic pages of handwritten numbers on notebook paper, with ground truth.

Each page is drawn the way a real note gets to us: paper (plain, ruled or squared) with a
faint texture, digits written in pen or pencil, then the whole sheet photographed or
scanned a little askew, under uneven light, slightly out of focus, with sensor noise and
JPEG compression.

The digits are MNIST **test** digits (the recognizer trains on ``x_train`` only), redrawn as
pen strokes: the 28x28 gray image is cut to its ink, upscaled with cubic interpolation,
thresholded at a supersampled resolution and averaged back down, which gives crisp strokes
with anti-aliased edges instead of blurry enlarged pixels.

``style="script"`` writes in a second hand that owes nothing to MNIST: digits drawn as pen
paths (`GLYPHS`, a few ways of writing each digit), each writer keeping to one way per digit,
every digit bent by its own random affine and elastic distortion and pen pressure. It shows
how the recognizer does away from its training distribution.

``photo=True`` turns the scan into a phone photo: the sheet lies on a desk, seen at an
angle (a perspective warp), under stronger uneven light, and the digit boxes follow it.
``touching`` and ``broken`` write some digits nearly touching their neighbour (0-1 px apart)
and break some strokes with a small gap, as pens and hurried writers do.

Usage::

    from notes_ocr.mnist import load_mnist
    from notes_ocr.testing.synth import PageSpec, make_page, write_page

    mnist = load_mnist()
    page = make_page(PageSpec(paper="ruled", seed=1), mnist.x_test, mnist.y_test)
    write_page(page, "page.jpg", jpeg_quality=90)
    page.lines  # ["12 03 2024", "0142 555 0199", ...]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from notes_ocr.separators import SEPARATORS

PAPERS = ("plain", "ruled", "grid")
INKS = ("blue", "black", "pencil")
STYLES = ("mnist", "script")
# What `random_spec` can make: a scan of each paper, or a phone photo of any of them.
KINDS = (*PAPERS, "photo")
MM_PER_INCH = 25.4

# Strokes are thresholded at this many times the output resolution and area-averaged down:
# 3x3 subpixels give ten coverage levels on an edge, enough for smooth anti-aliasing.
SUPERSAMPLE = 3
# MNIST gray level from which a pixel counts as ink when cutting a digit to its ink box;
# lower picks up the faint halo the MNIST resampling left around strokes.
MNIST_INK_LEVEL = 30
# MNIST digits whose ink is shorter than this (of 20 px) are scrawls lying on their side;
# scaled to the line height they would come out absurdly wide.
MIN_MNIST_INK_HEIGHT = 14
# Lines of writing are at least this many digit heights apart, baseline to baseline.
MIN_LINE_PITCH = 1.6

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class PageSpec:
    """How one synthetic page looks. Everything not named here follows from ``seed``."""

    width: int = 1240  # image size in px; A5 at 213 dpi, A4 at 300 dpi is 2480 x 3508
    height: int = 1748
    dpi: float = 213.0  # scale of the paper's printed ruling and margins
    paper: str = "plain"  # "plain" | "ruled" | "grid"
    ink: str = "blue"  # "blue" | "black" | "pencil"
    tilt_degrees: float = 0.0  # rotation of the whole sheet in the image, counter-clockwise
    digit_height_px: float = 44.0  # typical digit height; each digit varies by +-15%
    pen_width_px: float = 4.0  # stroke width of the pen or pencil
    slant_degrees: float = 0.0  # writer's forward lean of the digits
    n_lines: int = 6  # lines of numbers wanted; fewer when they don't fit
    margin_line: bool = False  # red margin line, as on most ruled paper
    lighting: float = 0.0  # light falling off across the page: 0 even, 0.3 strong
    shadow: float = 0.0  # darkness of a soft shadow over part of the page: 0 none, 0.5 deep
    noise: float = 1.5  # sensor noise, standard deviation in gray levels
    specks: int = 10  # dust and dirt marks on the paper
    blur: float = 0.0  # Gaussian blur sigma in px: focus, scanner optics
    jpeg_quality: int | None = None  # JPEG compression applied to the image; None: lossless
    style: str = "mnist"  # handwriting: "mnist" test digits or "script", drawn pen paths
    touching: float = 0.0  # chance that a digit is written 0-1 px from the one before it
    broken: float = 0.0  # chance that a digit has one stroke broken by a small gap
    photo: bool = False  # a phone photo of the sheet lying on a desk instead of a scan
    perspective: float = 0.05  # photo: corners moved by up to this fraction of the size
    # Numbers written with their separators (dates, times, amounts, phone numbers: / - . , :)
    separators: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        if self.paper not in PAPERS:
            raise ValueError(f"paper must be one of {PAPERS}, got {self.paper!r}")
        if self.ink not in INKS:
            raise ValueError(f"ink must be one of {INKS}, got {self.ink!r}")
        if self.width < 200 or self.height < 200:
            raise ValueError(f"page too small: {self.width}x{self.height}")
        if self.digit_height_px < 8:
            raise ValueError(f"digit_height_px too small: {self.digit_height_px}")
        if self.style not in STYLES:
            raise ValueError(f"style must be one of {STYLES}, got {self.style!r}")
        for name in ("touching", "broken"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} is a probability, got {getattr(self, name)}")
        if not 0.0 <= self.perspective <= 0.2:
            raise ValueError(f"perspective must be in [0, 0.2], got {self.perspective}")


@dataclass
class SynthPage:
    """A rendered page and what is written on it."""

    image: np.ndarray  # (H, W, 3) uint8, BGR; a photo is larger than the page (desk around)
    # truth per line, top to bottom: digits (and separators, when the spec has them), one
    # space between groups
    lines: list[str]
    # (x, y, w, h) of each character but the spaces of each line, image coordinates
    digit_boxes: list[list[Box]]
    spec: PageSpec


@dataclass
class Placed:
    """One digit's ink on the page, before the sheet is tilted."""

    alpha: np.ndarray  # (h, w) float32 ink opacity in [0, 1]
    x: int  # left edge, canvas px
    y: int  # top edge, canvas px


# --- digits -------------------------------------------------------------------------------


def ink_crop(digit: np.ndarray, level: int = MNIST_INK_LEVEL) -> np.ndarray:
    """An MNIST digit cut to the box of its ink, as float32 in [0, 1]."""
    ink = digit >= level
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    if rows.size == 0:
        return digit.astype(np.float32) / 255.0
    cut = digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return cut.astype(np.float32) / 255.0


def ink_height(digit: np.ndarray, level: int = MNIST_INK_LEVEL) -> int:
    """Height in px of an MNIST digit's ink box."""
    rows = np.flatnonzero((digit >= level).any(axis=1))
    return int(rows[-1] - rows[0] + 1) if rows.size else 0


def render_digit(
    digit: np.ndarray,
    height_px: float,
    angle_degrees: float = 0.0,
    slant_degrees: float = 0.0,
    pen_width_px: float | None = None,
) -> np.ndarray:
    """Redraw a 28x28 MNIST digit as a pen stroke ``height_px`` tall.

    Parameters
    ----------
    digit : (28, 28) uint8, white ink on black
    height_px : height of the ink box before rotation
    angle_degrees : rotation, counter-clockwise
    slant_degrees : forward lean (shear) of the strokes
    pen_width_px : stroke width to thin or thicken the strokes to; None keeps MNIST's
        (about 14% of the digit height, a felt pen on a small digit)

    Returns
    -------
    (h, w) float32 ink coverage in [0, 1], cut to the ink.
    """
    crop = ink_crop(digit)
    ch, cw = crop.shape
    # A scrawl wider than tall is capped so one digit doesn't take the width of three.
    scale = min(height_px / ch, 1.2 * height_px / cw) * SUPERSAMPLE
    src = np.pad(crop, 2)
    a, s = math.radians(angle_degrees), math.radians(slant_degrees)
    rotation = np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])
    shear = np.array([[1.0, -math.tan(s)], [0.0, 1.0]])
    linear = rotation @ shear * scale
    center = np.array([(src.shape[1] - 1) / 2, (src.shape[0] - 1) / 2])
    h, w = src.shape
    corners = np.array([[0, 0], [w - 1, 0], [0, h - 1], [w - 1, h - 1]]) - center
    moved = corners @ linear.T
    # Room for strokes to grow when the pen is wider than MNIST's.
    margin = (pen_width_px or 0.0) * SUPERSAMPLE + 2 * SUPERSAMPLE
    low = moved.min(axis=0) - margin
    size = (np.ceil((moved.max(axis=0) + margin - low) / SUPERSAMPLE) * SUPERSAMPLE).astype(int)
    matrix = np.hstack([linear, (-linear @ center - low)[:, None]])
    big = cv2.warpAffine(
        src, matrix, (int(size[0]), int(size[1])), flags=cv2.INTER_CUBIC, borderValue=0
    )
    # Cubic interpolation of a 28 px grid leaves ripples at the grid's pitch along stroke
    # edges; a blur of a third of that pitch smooths them without rounding the shape.
    big = cv2.GaussianBlur(big, (0, 0), 0.35 * scale)
    inside = (big > 0.5).astype(np.uint8)
    if pen_width_px is not None and inside.any():
        inside = restroke(inside, pen_width_px * SUPERSAMPLE)
    coverage = cv2.resize(
        inside.astype(np.float32),
        (int(size[0]) // SUPERSAMPLE, int(size[1]) // SUPERSAMPLE),
        interpolation=cv2.INTER_AREA,
    )
    return cut_to_ink(coverage)


def restroke(inside: np.ndarray, width: float) -> np.ndarray:
    """Grow or shrink a binary stroke mask toward a stroke ``width`` (px): another pen.

    The shape is moved by at most a third of its width either way: thinning more would
    break the thin joins MNIST digits have.
    """
    d_in = cv2.distanceTransform(inside, cv2.DIST_L2, 5)
    d_out = cv2.distanceTransform(1 - inside, cv2.DIST_L2, 5)
    # Across a stroke of width w the distance to its edge runs evenly from 0 to w/2,
    # so the mean over the stroke is w/4.
    current = 4.0 * float(d_in[inside > 0].mean())
    offset = float(np.clip((current - width) / 2, -current / 3, current / 3))
    signed = d_in - d_out  # positive inside
    return (signed > offset).astype(np.uint8)


def cut_to_ink(alpha: np.ndarray, level: float = 1.0 / 255) -> np.ndarray:
    """``alpha`` cut to the box of its values above ``level``."""
    rows = np.flatnonzero((alpha > level).any(axis=1))
    cols = np.flatnonzero((alpha > level).any(axis=0))
    if rows.size == 0:
        return alpha[:1, :1] * 0
    return alpha[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def pen_alpha(rng: np.random.Generator, coverage: np.ndarray, ink: str) -> np.ndarray:
    """Ink opacity of a stroke: pens lay a nearly even film, pencil grainy and light."""
    if ink == "pencil":
        grain = cv2.GaussianBlur(rng.random(coverage.shape, dtype=np.float32), (0, 0), 0.7)
        grain = (grain - grain.mean()) / (grain.std() + 1e-6)
        opacity = rng.uniform(0.55, 0.8)
        return np.clip(coverage * opacity * (1 + 0.28 * grain), 0, 1).astype(np.float32)
    # Pressure and ink flow vary a little along a stroke, more gently than graphite does.
    flow = cv2.GaussianBlur(rng.random(coverage.shape, dtype=np.float32), (0, 0), 3.0)
    flow = (flow - flow.mean()) / (flow.std() + 1e-6)
    pressure = rng.uniform(0.88, 1.0)
    return np.clip(coverage * pressure * (1 - 0.06 * flow), 0, 1).astype(np.float32)


def ink_color(rng: np.random.Generator, ink: str) -> np.ndarray:
    """BGR reflectance of the ink, 0 absorbs all light, 1 none."""
    if ink == "blue":
        bases = [(0.60, 0.30, 0.17), (0.52, 0.20, 0.10), (0.70, 0.42, 0.28)]  # ballpoint, gel
        base = np.array(bases[rng.integers(len(bases))])
        return np.clip(base + rng.uniform(-0.04, 0.04, 3), 0.02, 1).astype(np.float32)
    if ink == "black":
        shade = rng.uniform(0.10, 0.24)
        return (shade + rng.uniform(0, 0.03, 3)).astype(np.float32)
    return np.full(3, rng.uniform(0.28, 0.40), np.float32)


# --- a second hand: digits drawn as pen paths, not from MNIST -----------------------------

# Ways of writing each digit (allographs) as pen paths in a box 100 units wide and tall, x to
# the right and y down. ";" lifts the pen, "/" is a sharp corner, and the points between are
# joined by a smooth curve. The shapes are the common school and office hands: open and
# closed 4s, 1s with and without flag and foot, crossed 7s, looped 2s, one- and two-loop 8s.
GLYPHS: dict[int, tuple[str, ...]] = {
    0: (
        "55,2 20,12 5,50 20,90 50,100 82,88 95,50 82,12 55,2 40,7",
        "62,0 30,6 10,36 12,76 40,100 75,90 90,55 85,20 64,2 56,12",
    ),
    1: (
        "52,0 50,100",
        "30,22 / 58,0 / 56,100",
        "36,16 / 60,0 / 60,100; 28,100 92,100",
        "6,40 / 62,0 / 58,100",  # the continental 1, long upstroke: its writers cross 7s
    ),
    2: (
        "8,28 30,4 62,0 88,18 85,42 50,72 5,100 / 95,97",
        "8,28 30,4 62,0 88,18 85,42 50,72 15,95 10,86 25,84 50,97 95,96",
        "8,16 45,0 88,8 / 8,100 / 95,98",
    ),
    3: (
        "10,15 40,0 75,4 85,24 65,44 38,48 / 75,53 92,74 80,94 50,100 8,88",
        "10,2 / 88,0 / 40,42 / 78,50 93,74 80,94 50,100 8,88",
    ),
    4: (
        "55,0 / 4,66 / 96,64; 72,30 72,100",
        "72,100 / 72,0 / 4,68 / 96,68",
        "15,0 / 10,60 / 95,60; 75,5 75,100",
    ),
    5: (
        "88,2 / 22,0 / 16,45 / 45,36 80,46 92,70 78,93 45,100 8,90",
        "25,5 / 18,45 / 50,38 82,50 90,74 72,95 40,100 8,88; 30,3 92,0",
    ),
    6: (
        "78,3 45,10 20,38 8,70 25,95 55,100 85,80 78,55 45,48 15,62",
        "75,0 20,62 15,85 40,100 75,92 85,70 60,50 30,55 18,66",
    ),
    7: (
        "5,4 / 92,0 / 60,45 38,100",
        "5,4 / 92,0 / 60,45 38,100; 30,52 85,50",
        "4,18 / 10,3 / 92,2 / 45,100",
    ),
    8: (
        "82,14 50,0 18,10 20,32 50,48 82,66 82,90 50,100 18,90 18,66 50,48 80,30 82,14",
        "50,0 20,10 20,36 50,47 80,36 80,10 50,0; 50,47 12,60 10,88 50,100 90,88 88,60 50,47",
    ),
    9: (
        "85,22 55,0 20,6 10,30 35,50 70,44 86,22 / 82,100",
        "85,20 55,0 20,6 10,30 35,50 70,42 86,20 / 86,55 70,90 35,100",
    ),
}
CONTINENTAL_ONE, CROSSED_SEVEN = 3, 1  # indices in GLYPHS[1] and GLYPHS[7]
# Script digits are drawn white on black like MNIST, on a square of this side: larger than
# MNIST's 28 px so that smooth strokes keep their shape when scaled up to a page.
SCRIPT_SIZE = 64
# Pen paths are drawn this many times finer and averaged down, for anti-aliased strokes
# whose width can vary in steps of a fraction of a pixel.
SCRIPT_SUPERSAMPLE = 4


@dataclass(frozen=True)
class Hand:
    """One writer's habits, the same for every digit they write on a page."""

    forms: tuple[int, ...]  # which of GLYPHS[d] the writer uses for each digit d
    aspect: float  # width of a digit over its height
    stroke: float  # pen width as a fraction of the digit height
    wobble: float  # how far strokes stray from the model shape, fraction of the height


def random_hand(rng: np.random.Generator) -> Hand:
    """A writer: one way of writing each digit, proportions and a steady or shaky hand."""
    forms = [int(rng.integers(len(GLYPHS[d]))) for d in range(10)]
    if forms[1] == CONTINENTAL_ONE:
        forms[7] = CROSSED_SEVEN  # else their 1 and 7 would look alike to themselves
    return Hand(
        forms=tuple(forms),
        aspect=float(rng.uniform(0.45, 0.8)),
        stroke=float(rng.uniform(0.07, 0.12)),
        wobble=float(rng.uniform(0.02, 0.05)),
    )


def glyph_strokes(form: str) -> list[list[np.ndarray]]:
    """Parse one `GLYPHS` entry: strokes, each a list of smooth pieces, (k, 2) unit points."""
    strokes = []
    for stroke in form.split(";"):
        pieces: list[np.ndarray] = []
        for part in stroke.split("/"):
            points = [[float(v) / 100 for v in xy.split(",")] for xy in part.split()]
            if pieces:
                # A corner is shared: the next piece starts where the last one ended.
                points = [pieces[-1][-1].tolist(), *points]
            pieces.append(np.array(points, np.float64))
        # A piece made of the corner alone (as in "a / b / c") adds nothing.
        strokes.append([piece for piece in pieces if len(piece) >= 2])
    return strokes


def catmull_rom(points: np.ndarray, per_segment: int = 12) -> np.ndarray:
    """Points along a smooth curve through ``points`` (k, 2); two points give a line."""
    padded = np.vstack([points[:1], points, points[-1:]])
    t = np.linspace(0, 1, per_segment, endpoint=False)[:, None]
    out = []
    for i in range(len(points) - 1):
        p0, p1, p2, p3 = padded[i : i + 4]
        out.append(
            0.5 * (2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                   + (3 * p1 - p0 - 3 * p2 + p3) * t**3)
        )  # fmt: skip
    out.append(points[-1:])
    return np.vstack(out)


def smooth_displacement(
    rng: np.random.Generator, amount: float, waves: int = 3
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A random smooth 2-D displacement field: wave vectors, phases and amplitudes.

    Elastic distortion of a pen path: the same field moves every point, so strokes that
    meet keep meeting, and it varies over about a digit's height, as a hand's wobble does.
    """
    vectors = rng.uniform(0.4, 1.4, (waves, 2)) * rng.choice([-1.0, 1.0], (waves, 2))
    phases = rng.uniform(0, 2 * math.pi, waves)
    amplitudes = rng.normal(0, amount / math.sqrt(waves), (waves, 2))
    return vectors * 2 * math.pi, phases, amplitudes


def displace(points: np.ndarray, field: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """``points`` (k, 2) moved by a `smooth_displacement` field."""
    vectors, phases, amplitudes = field
    return points + np.sin(points @ vectors.T + phases) @ amplitudes


def script_digit(rng: np.random.Generator, hand: Hand, label: int) -> np.ndarray:
    """Draw digit ``label`` in ``hand``: (SCRIPT_SIZE, SCRIPT_SIZE) uint8, white on black.

    The writer's way of writing the digit is bent by a smooth elastic field, a random
    rotation, shear and stretch, pen strokes that don't quite land where they should, and a
    pen width that varies from digit to digit and along each stroke; no two come out alike.
    """
    field = smooth_displacement(rng, hand.wobble)
    a = math.radians(rng.uniform(-8, 8))
    shear = rng.uniform(-0.15, 0.15)
    stretch = np.array([hand.aspect * rng.uniform(0.9, 1.1), rng.uniform(0.93, 1.05)])
    linear = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    linear = linear @ np.array([[1.0, -shear], [0.0, 1.0]]) @ np.diag(stretch)
    paths = []
    for index, stroke in enumerate(glyph_strokes(GLYPHS[label][hand.forms[label]])):
        # After a pen lift the next stroke lands a little off; the first sets the place.
        offset = rng.normal(0, 0.4 * hand.wobble, 2) if index else np.zeros(2)
        for piece in stroke:
            curve = displace(catmull_rom(piece), field) + offset
            paths.append((curve - 0.5) @ linear.T)
    low = np.min([p.min(axis=0) for p in paths], axis=0)
    high = np.max([p.max(axis=0) for p in paths], axis=0)
    size = SCRIPT_SIZE * SCRIPT_SUPERSAMPLE
    # The ink box is at most 72% tall and 80% wide, leaving room for the pen's width.
    scale = min(0.72 * size / max(high[1] - low[1], 1e-6), 0.8 * size / max(high[0] - low[0], 1e-6))
    center = (low + high) / 2
    width = hand.stroke * rng.uniform(0.8, 1.25) * scale * (high[1] - low[1])
    shift = 3  # subpixel bits of the drawing coordinates
    canvas = np.zeros((size, size), np.uint8)
    for path in paths:
        pixels = ((path - center) * scale + size / 2) * (1 << shift)
        # Pressure swells and eases along the stroke.
        steps = np.linalg.norm(np.diff(path, axis=0), axis=1)
        along = np.concatenate([[0.0], np.cumsum(steps)])
        pressure = 1 + 0.15 * np.sin(along * rng.uniform(3, 8) + rng.uniform(0, 2 * math.pi))
        for i in range(len(pixels) - 1):
            start = tuple(int(v) for v in np.round(pixels[i]))
            end = tuple(int(v) for v in np.round(pixels[i + 1]))
            thickness = max(1, round(width * pressure[i]))
            cv2.line(canvas, start, end, 255, thickness, cv2.LINE_AA, shift)
    return cv2.resize(canvas, (SCRIPT_SIZE, SCRIPT_SIZE), interpolation=cv2.INTER_AREA)


# --- text ---------------------------------------------------------------------------------


def random_digits(rng: np.random.Generator, n: int, leading_zero: bool = True) -> str:
    """``n`` random digit characters."""
    chars = [str(d) for d in rng.integers(0, 10, n)]
    if not leading_zero and n > 1 and chars[0] == "0":
        chars[0] = str(rng.integers(1, 10))
    return "".join(chars)


def random_groups(rng: np.random.Generator) -> list[str]:
    """Digit groups of one line of notes: a date, a phone number, an amount, an ID or any."""
    kind = rng.choice(["date", "phone", "amount", "id", "any"], p=[0.2, 0.2, 0.2, 0.15, 0.25])
    if kind == "date":
        year = str(rng.integers(1990, 2031))
        if rng.random() < 0.3:
            year = year[2:]
        return [f"{rng.integers(1, 29):02d}", f"{rng.integers(1, 13):02d}", year]
    if kind == "phone":
        patterns = [(4, 3, 4), (3, 3, 4), (3, 4), (2, 2, 2, 2)]
        pattern = patterns[rng.integers(len(patterns))]
        groups = [random_digits(rng, n) for n in pattern]
        if rng.random() < 0.6:
            groups[0] = "0" + groups[0][1:]
        return groups
    if kind == "amount":
        return [random_digits(rng, int(rng.integers(2, 7)), leading_zero=False)]
    if kind == "id":
        groups = [random_digits(rng, int(rng.integers(4, 9)))]
        if rng.random() < 0.4:
            groups.append(random_digits(rng, int(rng.integers(1, 5))))
        return groups
    # A lone digit on a line is rare in notes; later groups may be that short.
    lengths = [int(rng.integers(2, 9))]
    lengths += [int(rng.integers(1, 9)) for _ in range(rng.integers(0, 4))]
    return [random_digits(rng, n) for n in lengths]


def separated_groups(rng: np.random.Generator) -> list[str]:
    """Numbers of one line of notes written with their separators: a date (``12/05/2019``,
    ``12.05.19``, ``12-05-2019``, now and then with a time), a time (``10:30``), an amount
    (``1.250,00``, ``67.555``, ``1,250.00``), a phone number (``555-1234``), or a line of
    plain digit groups (``random_groups``) for one line in five."""
    kind = rng.choice(["date", "time", "amount", "phone", "plain"],
                      p=[0.25, 0.15, 0.25, 0.15, 0.2])
    if kind == "plain":
        return random_groups(rng)
    if kind == "time":
        return [f"{rng.integers(0, 24):02d}:{rng.integers(0, 60):02d}"]
    if kind == "phone":
        lengths = (3, 4) if rng.random() < 0.5 else (3, 3, 4)
        return ["-".join(random_digits(rng, n) for n in lengths)]
    if kind == "date":
        mark = str(rng.choice(list("/.-")))
        year = str(rng.integers(1990, 2031))
        if rng.random() < 0.3:
            year = year[2:]
        groups = [f"{rng.integers(1, 29):02d}{mark}{rng.integers(1, 13):02d}{mark}{year}"]
        if rng.random() < 0.3:
            groups.append(f"{rng.integers(0, 24):02d}:{rng.integers(0, 60):02d}")
        return groups
    whole = random_digits(rng, int(rng.integers(1, 8)), leading_zero=False)
    thousands, decimal = (".", ",") if rng.random() < 0.5 else (",", ".")
    parts = []
    while len(whole) > 3:
        parts.insert(0, whole[-3:])
        whole = whole[:-3]
    text = thousands.join([whole, *parts])
    if rng.random() < 0.6:
        text += decimal + random_digits(rng, 2)
    return [text]


def separator_coverage(rng: np.random.Generator, char: str, digit_height: float,
                       pen_width: float) -> tuple[np.ndarray, float]:
    """A separator drawn with the pen, as (ink coverage, px its bottom lies below the
    baseline; negative above). A dot sits on the baseline; a comma is a dot with a tail
    below it; a dash is short and at mid-height; a colon is two stacked dots; a slash
    leans and is about as tall as the digits."""
    dh, pen = digit_height, max(1.5, pen_width * rng.uniform(0.9, 1.1))
    dot = max(pen * 1.3, 0.08 * dh)
    if char == ".":
        strokes, below = [[(0.0, 0.0), (0.3 * dot, -0.2 * dot)]], 0.0
    elif char == ",":
        tail = rng.uniform(0.15, 0.3) * dh
        strokes = [[(0.2 * dot, 0.0), (0.35 * dot, 0.2 * tail), (0.0, tail)]]
        below = tail
    elif char == "-":
        length = rng.uniform(0.3, 0.5) * dh
        rise = rng.uniform(-0.05, 0.05) * length
        strokes, below = [[(0.0, 0.0), (length, -rise)]], -rng.uniform(0.4, 0.55) * dh
    elif char == ":":
        gap = rng.uniform(0.3, 0.45) * dh
        strokes, below = [[(0.0, 0.0), (0.2 * dot, 0.1 * dot)],
                          [(0.1 * dot, gap), (0.3 * dot, gap + 0.1 * dot)]], 0.0
    elif char == "/":
        tall, lean = rng.uniform(0.85, 1.1) * dh, rng.uniform(0.3, 0.55) * dh
        strokes, below = [[(lean, 0.0), (0.0, tall)]], rng.uniform(0.0, 0.05) * dh
    else:
        raise ValueError(f"not a separator: {char!r}")
    width = pen if char in "/-" else dot
    points = [np.array(stroke, np.float64) for stroke in strokes]
    low = np.min([p.min(axis=0) for p in points], axis=0) - width
    high = np.max([p.max(axis=0) for p in points], axis=0) + width
    size = np.ceil((high - low) * SUPERSAMPLE).astype(int) + 1
    canvas = np.zeros((int(size[1]), int(size[0])), np.uint8)
    for stroke in points:
        fine = np.round((stroke - low) * SUPERSAMPLE).astype(np.int32)
        cv2.polylines(canvas, [fine], False, 255, max(1, round(width * SUPERSAMPLE)),
                      cv2.LINE_AA)
    small = (max(1, int(size[0]) // SUPERSAMPLE), max(1, int(size[1]) // SUPERSAMPLE))
    coverage = cv2.resize(canvas.astype(np.float32) / 255, small, interpolation=cv2.INTER_AREA)
    return cut_to_ink(coverage), below


def digit_pools(labels: np.ndarray) -> list[np.ndarray]:
    """Indices of each digit class 0-9 in ``labels``."""
    pools = [np.flatnonzero(labels == d) for d in range(10)]
    missing = [d for d, pool in enumerate(pools) if pool.size == 0]
    if missing:
        raise ValueError(f"no digits with label(s) {missing}")
    return pools


def pick_digit(
    rng: np.random.Generator, digits: np.ndarray, pool: np.ndarray, tries: int = 20
) -> np.ndarray:
    """A random digit from ``pool``, preferring ones written upright rather than lying flat."""
    digit = digits[pool[rng.integers(pool.size)]]
    for _ in range(tries):
        if ink_height(digit) >= MIN_MNIST_INK_HEIGHT:
            break
        digit = digits[pool[rng.integers(pool.size)]]
    return digit


# --- layout -------------------------------------------------------------------------------


def mm(value: float, dpi: float) -> float:
    """Millimeters to px."""
    return value * dpi / MM_PER_INCH


def choose_baselines(
    rng: np.random.Generator, candidates: np.ndarray, n: int, min_step: int
) -> list[float]:
    """``n`` (or as many as fit) of the printed ``candidates`` lines, ``min_step`` apart.

    Left-over lines are spread as the occasional skipped line, as people leave them.
    """
    if candidates.size == 0 or n < 1:
        return []
    n = min(n, (candidates.size - 1) // min_step + 1)
    slack = candidates.size - ((n - 1) * min_step + 1)
    index = int(rng.integers(0, min(slack, 2) + 1))
    slack -= index
    chosen = [index]
    for _ in range(n - 1):
        extra = 1 if slack > 0 and rng.random() < 0.3 else 0
        slack -= extra
        index += min_step + extra
        chosen.append(index)
    return [float(candidates[i]) for i in chosen]


def plain_baselines(
    rng: np.random.Generator, top: float, bottom: float, n: int, digit_height: float
) -> list[float]:
    """Baselines of ``n`` (or as many as fit) hand-spaced lines between ``top`` and ``bottom``."""
    if n < 1 or bottom <= top:
        return []
    if n > 1:
        n = min(n, int((bottom - top) / (MIN_LINE_PITCH * digit_height)) + 1)
    room = (bottom - top) / max(n - 1, 1)
    pitch = min(rng.uniform(1.8, 3.4) * digit_height, room)
    # Jitter may not bring two lines closer than the minimum pitch.
    wobble = max(0.0, min(0.1 * digit_height, (pitch - MIN_LINE_PITCH * digit_height) / 2))
    return [top + i * pitch + rng.uniform(-wobble, wobble) for i in range(n)]


def rulings(spec: PageSpec, rng: np.random.Generator) -> tuple[np.ndarray, float, float]:
    """Printed horizontal lines in page coordinates, their pitch and the margin line's x.

    For plain paper the array is empty. Lines run past the page so a tilted sheet keeps its
    ruling into the corners.
    """
    margin_x = mm(rng.uniform(20, 32), spec.dpi)
    if spec.paper == "ruled":
        pitch = mm(rng.uniform(8.0, 9.0), spec.dpi)
        first = mm(rng.uniform(16, 30), spec.dpi)
        return np.arange(first, spec.height * 1.2, pitch), pitch, margin_x
    if spec.paper == "grid":
        # Printing and scanning scale the 5 mm squares by a percent or so.
        pitch = mm(5.0 * rng.uniform(0.99, 1.01), spec.dpi)
        first = rng.uniform(0, pitch) - spec.height * 0.2
        return np.arange(first, spec.height * 1.2, pitch), pitch, margin_x
    return np.empty(0), 0.0, margin_x


def line_profile(centers: np.ndarray, thickness: float, length: int) -> np.ndarray:
    """Anti-aliased coverage along one axis of printed lines at ``centers`` (px)."""
    starts = np.arange(length, dtype=np.float32)[:, None]
    low = centers[None, :] - thickness / 2
    high = centers[None, :] + thickness / 2
    overlap = np.clip(np.minimum(starts + 1, high) - np.maximum(starts, low), 0, 1)
    return np.clip(overlap.sum(axis=1), 0, 1).astype(np.float32)


def smooth_wave(rng: np.random.Generator, length: int, scale: float, amount: float) -> np.ndarray:
    """1-D random variation of about ``amount`` around 1, changing over ``scale`` px."""
    knots = max(int(length / max(scale, 1.0)) + 2, 2)
    values = rng.standard_normal(knots).astype(np.float32)
    wave = cv2.resize(values[None, :], (length, 1), interpolation=cv2.INTER_CUBIC)[0]
    return 1 + amount * wave


# --- paper --------------------------------------------------------------------------------


def paper_color(rng: np.random.Generator) -> np.ndarray:
    """BGR reflectance of white to slightly warm or recycled paper."""
    warm = rng.uniform(0.0, 0.04)
    base = rng.uniform(0.92, 0.97)
    return np.array([base - warm, base - warm / 3, base + warm / 4], np.float32).clip(0, 1)


def paper_texture(rng: np.random.Generator, shape: tuple[int, int], amount: float) -> np.ndarray:
    """Brightness of paper fibre and clouding around 1, blotches of a few px to a few mm."""
    h, w = shape
    texture = np.ones(shape, np.float32)
    for cell, weight in ((64, 0.6), (12, 0.3), (3, 0.1)):
        coarse = rng.standard_normal((h // cell + 2, w // cell + 2)).astype(np.float32)
        texture += amount * weight * cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    return texture


def multiply_lines(paper: np.ndarray, coverage: np.ndarray, color: np.ndarray) -> None:
    """Print lines of ``color`` with ``coverage`` (H, W) onto ``paper`` in place."""
    paper *= 1 - coverage[..., None] * (1 - color)


def draw_paper(
    spec: PageSpec,
    rng: np.random.Generator,
    shape: tuple[int, int],
    origin: tuple[int, int],
    ruling: np.ndarray,
    pitch: float,
    margin_x: float,
) -> np.ndarray:
    """The blank sheet on a canvas of ``shape``: (H, W, 3) float32 BGR reflectance.

    ``origin`` is where the page's top-left corner lies on the canvas; ``ruling``, ``pitch``
    and ``margin_x`` are what `rulings` returned, in page coordinates.
    """
    h, w = shape
    ox, oy = origin
    # Paper grain shows as much as the capture lets it: a clean flatbed scan flattens it,
    # a phone photo in dim light (a noisy one) brings it out.
    texture_amount = 0.002 + 0.008 * min(spec.noise, 4.0) / 4.0
    paper = paper_color(rng) * paper_texture(rng, shape, texture_amount)[..., None]
    px_per_mm = spec.dpi / MM_PER_INCH
    if spec.paper == "ruled":
        blue = (np.array([0.93, 0.76, 0.58]) + rng.uniform(-0.05, 0.05, 3)).astype(np.float32)
        rows = line_profile(ruling + oy, rng.uniform(0.16, 0.24) * px_per_mm, h)
        strength = rng.uniform(0.7, 1.0)
        along = smooth_wave(rng, w, 40 * px_per_mm, 0.05)  # printing is never quite even
        multiply_lines(paper, strength * rows[:, None] * along[None, :], blue.clip(0, 1))
    elif spec.paper == "grid":
        if rng.random() < 0.5:
            tint = np.full(3, rng.uniform(0.68, 0.8), np.float32)  # gray squares
        else:
            tint = np.array([0.9, 0.78, 0.66], np.float32)  # light blue squares
        thickness = rng.uniform(0.1, 0.16) * px_per_mm
        rows = line_profile(ruling + oy, thickness, h)
        cols = line_profile(np.arange(rng.uniform(0, pitch), w, pitch), thickness, w)
        grid = 1 - (1 - rows[:, None]) * (1 - cols[None, :])
        multiply_lines(paper, rng.uniform(0.6, 0.9) * grid, tint)
    if spec.margin_line:
        red = (np.array([0.52, 0.46, 0.92]) + rng.uniform(-0.05, 0.05, 3)).astype(np.float32)
        cols = line_profile(np.array([margin_x + ox]), rng.uniform(0.2, 0.35) * px_per_mm, w)
        multiply_lines(paper, rng.uniform(0.75, 1.0) * np.tile(cols, (h, 1)), red.clip(0, 1))
    return paper


def draw_specks(rng: np.random.Generator, paper: np.ndarray, count: int, dpi: float) -> None:
    """Dust, dirt dots and short hairs, in place."""
    h, w = paper.shape[:2]
    marks = np.zeros((h, w), np.uint8)
    shift = 4  # subpixel positions for the anti-aliased drawing
    one = 1 << shift
    size = dpi / 200
    for _ in range(count):
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        darkness = int(rng.uniform(0.25, 0.75) * 255)
        center = (int(x * one), int(y * one))
        if rng.random() < 0.8:
            radius = int(rng.uniform(0.5, 1.8) * size * one)
            cv2.circle(marks, center, radius, darkness, -1, cv2.LINE_AA, shift)
        else:
            angle, length = rng.uniform(0, math.pi), rng.uniform(3, 12) * size
            end_x, end_y = x + length * math.cos(angle), y + length * math.sin(angle)
            end = (int(end_x * one), int(end_y * one))
            cv2.line(marks, center, end, darkness, 1, cv2.LINE_AA, shift)
    paper *= 1 - marks[..., None].astype(np.float32) / 255 * 0.9


# --- writing ------------------------------------------------------------------------------


# Opacity from which a pixel counts as a stroke when fitting nearly touching digits together:
# the anti-aliased fringe below it is what a binariser would drop.
STROKE_LEVEL = 0.2


def break_stroke(rng: np.random.Generator, coverage: np.ndarray, gap_px: float) -> np.ndarray:
    """``coverage`` with a gap ``gap_px`` wide erased across one stroke: a skipping pen.

    The gap is cut at a random point on a stroke's center line, across the stroke (along the
    main direction of the ink's edges around it) and a little longer than the stroke is wide.
    """
    solid = (coverage > 0.5).astype(np.uint8)
    if not solid.any():
        return coverage
    depth = cv2.distanceTransform(solid, cv2.DIST_L2, 3)
    ridge = (depth > 0) & (depth >= cv2.dilate(depth, np.ones((3, 3), np.uint8)))
    ys, xs = np.nonzero(ridge)
    pick = int(rng.integers(ys.size))
    y, x = int(ys[pick]), int(xs[pick])
    half_width = float(depth[y, x])
    # The structure tensor of the edges near the point: its main axis runs across the stroke.
    r = max(2, math.ceil(3 * half_width))
    window = coverage[max(y - r, 0) : y + r + 1, max(x - r, 0) : x + r + 1]
    gy, gx = np.gradient(window.astype(np.float64))
    tensor = np.array([[(gx * gx).sum(), (gx * gy).sum()], [(gx * gy).sum(), (gy * gy).sum()]])
    across = np.linalg.eigh(tensor)[1][:, -1]
    reach = 1.6 * half_width + 1.5
    shift = 4
    one = 1 << shift
    ends = [(x + sign * reach * across[0], y + sign * reach * across[1]) for sign in (-1, 1)]
    # Drawn 4x finer and averaged down, so the gap's edges are anti-aliased like the stroke's.
    fine = np.zeros((4 * coverage.shape[0], 4 * coverage.shape[1]), np.uint8)
    (x0, y0), (x1, y1) = ((int((4 * u + 1.5) * one), int((4 * v + 1.5) * one)) for u, v in ends)
    cv2.line(fine, (x0, y0), (x1, y1), 255, max(1, round(4 * gap_px)), cv2.LINE_AA, shift)
    erased = cv2.resize(fine, coverage.shape[::-1], interpolation=cv2.INTER_AREA)
    return coverage * (1 - erased.astype(np.float32) / 255)


def snug_left(before: Placed, alpha: np.ndarray, top: int, gap: int) -> int:
    """Left edge for ``alpha`` (top row ``top``) leaving ``gap`` px between its strokes and
    those of ``before``, the digit to its left, on the rows where both have ink.

    Pixels diagonally next to each other touch, so ``before`` is grown by a row up and down.
    With no rows in common the boxes are put ``gap`` apart instead.
    """
    bh, bw = before.alpha.shape
    ink_before = before.alpha > STROKE_LEVEL
    right = np.where(ink_before.any(axis=1), bw - 1 - np.argmax(ink_before[:, ::-1], axis=1), -1)
    padded = np.pad(right, 2, constant_values=-1)
    # grown[k + 1] is the right end of before's ink on its rows k - 1 to k + 1, k in [-1, bh].
    grown = np.maximum(np.maximum(padded[:-2], padded[1:-1]), padded[2:])
    ink = alpha > STROKE_LEVEL
    left = np.where(ink.any(axis=1), np.argmax(ink, axis=1), -1)
    rows = np.arange(max(top, before.y - 1), min(top + alpha.shape[0], before.y + bh + 1))
    ends, starts = grown[rows - before.y + 1], left[rows - top]
    both = (ends >= 0) & (starts >= 0)
    if not both.any():
        return before.x + bw + gap
    need = int((before.x + ends[both] - starts[both]).max()) + 1 + gap
    # Never start left of the digit before: a small one could otherwise slide under it.
    return max(need, before.x + 1)


def write_line(
    rng: np.random.Generator,
    spec: PageSpec,
    groups: list[str],
    digits: np.ndarray,
    pools: list[np.ndarray],
    start_x: float,
    stop_x: float,
    baseline: float,
    slope: float,
    hand: Hand | None = None,
) -> tuple[list[str], list[Placed]]:
    """Lay out one line of digit groups from ``start_x``, with ink bottoms on ``baseline``.

    Groups that would run past ``stop_x`` are dropped (the first one is cut short instead).
    Digits are MNIST ones from ``digits`` and ``pools``, or drawn in ``hand`` when given.
    Returns the groups as written and their digits.
    """
    dh = spec.digit_height_px
    typical_width = 0.6 * dh
    written: list[str] = []
    placed: list[Placed] = []
    x = start_x
    for group in groups:
        if written:
            x += rng.uniform(0.8, 1.5) * dh
        marks: list[Placed] = []
        gx = x
        for i, char in enumerate(group):
            # The random draws for touching and broken digits are only made when asked for,
            # so pages without them stay what they were.
            if char in SEPARATORS:
                gx += rng.uniform(0.05, 0.25) * typical_width
                coverage, below = separator_coverage(rng, char, dh, spec.pen_width_px)
                alpha = pen_alpha(rng, coverage, spec.ink)
                bottom = baseline + slope * (gx - start_x) + below
                marks.append(Placed(alpha, round(gx), round(bottom) - alpha.shape[0]))
                gx = round(gx) + alpha.shape[1] + rng.uniform(0.05, 0.25) * typical_width
                continue
            touch = (i > 0 and group[i - 1] not in SEPARATORS and spec.touching > 0
                     and rng.random() < spec.touching)
            if i and not touch and group[i - 1] not in SEPARATORS:
                # Mostly a clear gap, now and then nearly touching; never overlapping.
                fraction = rng.uniform(0.0, 0.05) if rng.random() < 0.1 else rng.uniform(0.05, 0.35)
                gx += max(2.0, fraction * typical_width)
            if hand is None:
                digit = pick_digit(rng, digits, pools[int(char)])
            else:
                digit = script_digit(rng, hand, int(char))
            coverage = render_digit(
                digit,
                dh * rng.uniform(0.85, 1.15),
                angle_degrees=rng.uniform(-5, 5),
                slant_degrees=spec.slant_degrees + rng.uniform(-3, 3),
                pen_width_px=spec.pen_width_px * rng.uniform(0.9, 1.1),
            )
            if spec.broken > 0 and rng.random() < spec.broken:
                coverage = break_stroke(rng, coverage, mm(rng.uniform(0.15, 0.4), spec.dpi))
            alpha = pen_alpha(rng, coverage, spec.ink)
            bottom = baseline + slope * (gx - start_x) + rng.normal(0, 0.03 * dh)
            top = round(bottom) - alpha.shape[0]
            left = snug_left(marks[-1], alpha, top, int(rng.integers(0, 2))) if touch else round(gx)
            marks.append(Placed(alpha, left, top))
            gx = left + alpha.shape[1]
        fits = [m for m in marks if m.x + m.alpha.shape[1] <= stop_x]
        if len(fits) < len(marks):
            if not written and fits:
                written.append(group[: len(fits)])
                placed.extend(fits)
            break
        written.append(group)
        placed.extend(marks)
        x = gx
    return written, placed


def tilt_matrix(width: int, height: int, degrees: float, origin: tuple[int, int]) -> np.ndarray:
    """2x3 affine from canvas to image: turn the sheet about the page center, then crop."""
    ox, oy = origin
    matrix = cv2.getRotationMatrix2D((ox + (width - 1) / 2, oy + (height - 1) / 2), degrees, 1.0)
    matrix[:, 2] -= (ox, oy)
    return matrix


def tilt_padding(width: int, height: int, degrees: float) -> tuple[int, int]:
    """Canvas margin that keeps the image covered by paper after turning it ``degrees``."""
    a = abs(math.radians(degrees))
    need_w = width * math.cos(a) + height * math.sin(a)
    need_h = width * math.sin(a) + height * math.cos(a)
    return math.ceil((need_w - width) / 2) + 2, math.ceil((need_h - height) / 2) + 2


def box_after(matrix: np.ndarray, mark: Placed, width: int, height: int) -> Box:
    """Image-space bounding box (x, y, w, h) of a placed digit once the sheet is turned."""
    h, w = mark.alpha.shape
    corners = np.array(
        [[mark.x, mark.y], [mark.x + w, mark.y], [mark.x, mark.y + h], [mark.x + w, mark.y + h]],
        np.float64,
    )
    moved = corners @ matrix[:, :2].T + matrix[:, 2]
    x0, y0 = np.floor(moved.min(axis=0)).astype(int)
    x1, y1 = np.ceil(moved.max(axis=0)).astype(int)
    x0, y0 = max(int(x0), 0), max(int(y0), 0)
    x1, y1 = min(int(x1), width), min(int(y1), height)
    return x0, y0, max(x1 - x0, 0), max(y1 - y0, 0)


def box_through(homography: np.ndarray, mark: Placed, width: int, height: int) -> Box:
    """Image-space bounding box (x, y, w, h) of a placed digit seen through a 3x3
    ``homography`` from canvas to image (a photo's perspective)."""
    h, w = mark.alpha.shape
    corners = np.array(
        [[mark.x, mark.y, 1], [mark.x + w, mark.y, 1], [mark.x, mark.y + h, 1],
         [mark.x + w, mark.y + h, 1]],
        np.float64,
    )  # fmt: skip
    seen = corners @ homography.T
    moved = seen[:, :2] / seen[:, 2:]
    x0, y0 = np.floor(moved.min(axis=0)).astype(int)
    x1, y1 = np.ceil(moved.max(axis=0)).astype(int)
    x0, y0 = max(int(x0), 0), max(int(y0), 0)
    x1, y1 = min(int(x1), width), min(int(y1), height)
    return x0, y0, max(x1 - x0, 0), max(y1 - y0, 0)


# --- light and camera ---------------------------------------------------------------------


def illumination(
    rng: np.random.Generator, height: int, width: int, lighting: float, shadow: float
) -> np.ndarray:
    """(H, W, 3) light falling on the sheet: a gradient, a vignette and a soft shadow."""
    u = (np.arange(width, dtype=np.float32) / width - 0.5)[None, :]
    v = (np.arange(height, dtype=np.float32) / height - 0.5)[:, None]
    angle = rng.uniform(0, 2 * math.pi)
    ramp = math.cos(angle) * u + math.sin(angle) * v
    ramp = (ramp - ramp.min()) / max(float(ramp.max() - ramp.min()), 1e-6)
    light = 1 - lighting * ramp - 0.5 * lighting * (u * u + v * v)
    light = light * rng.uniform(0.95, 1.04)  # exposure
    light = np.repeat(light[..., None], 3, axis=2)
    # White balance errs along the warm-cool axis (lamps, daylight), rarely toward magenta.
    warmth = rng.uniform(-0.01, 0.025)
    light *= np.array([1 - warmth, 1, 1 + warmth / 2], np.float32)
    if shadow > 0:
        # A hand or phone held over the page: one side darker behind a soft, curved edge.
        phi = rng.uniform(0, 2 * math.pi)
        along = (math.cos(phi) * u * width + math.sin(phi) * v * height).astype(np.float32)
        across = -math.sin(phi) * u * width + math.cos(phi) * v * height
        diagonal = math.hypot(width, height)
        along = along + rng.uniform(-0.4, 0.4) * across * across / diagonal
        cut = np.quantile(along[::8, ::8], 1 - rng.uniform(0.15, 0.45))
        softness = rng.uniform(0.02, 0.08) * diagonal
        shade = shadow / (1 + np.exp(-(along - cut) / softness))
        # Shadows are lit by the sky or room around, a touch bluer than direct light.
        light *= 1 - shade[..., None] * np.array([0.9, 1.0, 1.05], np.float32)
    return light.astype(np.float32)


def add_noise(rng: np.random.Generator, image: np.ndarray, sigma: float) -> np.ndarray:
    """Sensor noise: mostly shared by the channels, a little color noise on top."""
    if sigma <= 0:
        return image
    h, w = image.shape[:2]
    luma = rng.standard_normal((h, w), dtype=np.float32) * sigma
    chroma = rng.standard_normal((h, w, 3), dtype=np.float32) * (sigma * 0.35)
    return image + luma[..., None] + chroma


def jpeg_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    """``image`` as it comes back from JPEG at ``quality``."""
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return cv2.imdecode(data, cv2.IMREAD_COLOR)


def desk_surface(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) BGR reflectance of what the sheet lies on: wood, a gray or a dark top."""
    h, w = shape
    kind = int(rng.integers(3))
    if kind == 0:
        color = np.array([0.20, 0.34, 0.52]) * rng.uniform(0.6, 1.1)  # wood, light to dark
    elif kind == 1:
        color = rng.uniform(0.30, 0.48) + rng.uniform(-0.03, 0.03, 3)  # gray laminate
    else:
        color = rng.uniform(0.07, 0.16) + rng.uniform(0.0, 0.03, 3)  # dark desk or cloth
    desk = color.astype(np.float32) * paper_texture(rng, shape, 0.05)[..., None]
    if kind == 0:
        # Wood grain: streaks a few px across and most of the desk long, one way or the other.
        sideways = rng.random() < 0.5
        across, along = (w, h) if sideways else (h, w)
        grain = rng.standard_normal((max(across // 4, 2), 6)).astype(np.float32)
        grain = cv2.resize(grain, (along, across), interpolation=cv2.INTER_CUBIC)
        desk *= (1 + 0.08 * (grain.T if sideways else grain))[..., None]
    return desk


def camera_homography(
    rng: np.random.Generator, size: tuple[int, int], frame: tuple[int, int],
    degrees: float, amount: float,
) -> np.ndarray:  # fmt: skip
    """3x3 from sheet to photo px: the sheet of ``size`` (w, h) turned ``degrees`` on the
    desk, seen at an angle (each corner moved by up to ``amount`` of the size), whole and
    with some desk around it in a ``frame`` (w, h)."""
    w, h = size
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64)
    a = math.radians(degrees)
    # Counter-clockwise on the image, as cv2.getRotationMatrix2D turns.
    turn = np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])
    moved = (corners - (w / 2, h / 2)) @ turn.T + rng.uniform(-amount, amount, (4, 2)) * (w, h)
    # Shrink to fit if the corners stray out of frame, then place the sheet off center a bit.
    edge = 0.015 * min(frame)
    room = np.array(frame, np.float64) - 2 * edge
    extent = moved.max(axis=0) - moved.min(axis=0)
    moved *= min(1.0, float((room / extent).min()))
    slack = room - (moved.max(axis=0) - moved.min(axis=0))
    moved += edge + rng.uniform(0.2, 0.8, 2) * slack - moved.min(axis=0)
    return cv2.getPerspectiveTransform(corners.astype(np.float32), moved.astype(np.float32))


def on_desk(
    rng: np.random.Generator, sheet: np.ndarray, spec: PageSpec
) -> tuple[np.ndarray, np.ndarray]:
    """The sheet (H, W, 3 reflectance) lying on a desk as a phone sees it.

    Returns the scene's reflectance, larger than the sheet by a margin of desk and in a
    phone's 3:4 frame or taller, and the 3x3 homography from sheet to scene px.
    """
    h, w = sheet.shape[:2]
    margin = rng.uniform(0.04, 0.12)
    frame_h = round(h * (1 + 2 * margin))
    frame_w = round(max(w * (1 + 2 * margin), 0.75 * frame_h))
    homography = camera_homography(
        rng, (w, h), (frame_w, frame_h), spec.tilt_degrees, spec.perspective
    )
    flags = {"flags": cv2.INTER_LINEAR, "borderMode": cv2.BORDER_CONSTANT, "borderValue": 0}
    paper = cv2.warpPerspective(sheet, homography, (frame_w, frame_h), **flags)
    cover = cv2.warpPerspective(
        np.ones((h, w), np.float32), homography, (frame_w, frame_h), **flags
    )
    desk = desk_surface(rng, (frame_h, frame_w))
    # The sheet lifts a little off the desk and casts a soft shadow to one side.
    dx, dy = rng.uniform(-0.006, 0.006, 2) * frame_h
    drop = cv2.warpAffine(cover, np.float32([[1, 0, dx], [0, 1, dy]]), (frame_w, frame_h))
    drop = cv2.GaussianBlur(drop, (0, 0), 0.006 * frame_h)
    desk *= (1 - rng.uniform(0.2, 0.5) * drop)[..., None]
    # Warping with a black border left the sheet premultiplied by its coverage.
    return paper + desk * (1 - cover)[..., None], homography


# --- pages --------------------------------------------------------------------------------


def make_page(spec: PageSpec, digits: np.ndarray, labels: np.ndarray) -> SynthPage:
    """Render a page of handwritten numbers drawn from ``digits`` (MNIST test digits).

    Parameters
    ----------
    spec : how the page looks; the same spec always gives the same page
    digits : (N, 28, 28) uint8, white ink on black; with ``spec.style == "script"`` the
        digits are drawn instead and these go unused
    labels : (N,) digit classes 0-9

    Returns
    -------
    SynthPage with the BGR image, the truth text per line and each digit's box.
    """
    rng = np.random.default_rng(spec.seed)
    pools = digit_pools(np.asarray(labels))
    width, height, dpi, dh = spec.width, spec.height, spec.dpi, spec.digit_height_px
    # A photographed sheet is turned on the desk, edges and all, by the camera's homography;
    # a scanned one is turned inside the scan, which crops it.
    sheet_tilt = 0.0 if spec.photo else spec.tilt_degrees
    pad = tilt_padding(width, height, sheet_tilt)
    canvas_shape = (height + 2 * pad[1], width + 2 * pad[0])

    ruling, pitch, margin_x = rulings(spec, rng)
    paper = draw_paper(spec, rng, canvas_shape, pad, ruling, pitch, margin_x)

    # Where writing may go, in page coordinates.
    if spec.margin_line:
        left = margin_x + mm(rng.uniform(2, 6), dpi)
    else:
        left = mm(rng.uniform(10, 22), dpi)
    right = width - mm(rng.uniform(8, 15), dpi)
    top = mm(rng.uniform(8, 14), dpi) + 1.2 * dh  # lowest baseline whose digits clear the top
    bottom = height - mm(rng.uniform(10, 20), dpi)
    if spec.paper == "plain":
        first = mm(rng.uniform(18, 30), dpi) + dh
        baselines = plain_baselines(rng, first, bottom, spec.n_lines, dh)
        page_slope = rng.uniform(-0.8, 0.8)  # unruled writing drifts
    else:
        on_page = ruling[(ruling >= top) & (ruling <= bottom)]
        step = max(1, math.ceil(MIN_LINE_PITCH * dh / pitch - 1e-9))
        baselines = choose_baselines(rng, on_page, spec.n_lines, step)
        page_slope = 0.0

    hand = random_hand(rng) if spec.style == "script" else None
    alpha = np.zeros(canvas_shape, np.float32)
    lines: list[str] = []
    line_marks: list[list[Placed]] = []
    for baseline in baselines:
        # Digits sit on the ruled line or hover just above it.
        lift = rng.uniform(0.0, 0.12) * dh if spec.paper != "plain" else 0.0
        slope = math.tan(math.radians(page_slope + rng.uniform(-0.2, 0.2)))
        start = left + (mm(rng.uniform(0, 10), dpi) if rng.random() < 0.4 else 0.0)
        groups, marks = write_line(
            rng, spec, separated_groups(rng) if spec.separators else random_groups(rng),
            digits, pools,
            start + pad[0], right + pad[0], baseline - lift + pad[1], slope, hand,
        )  # fmt: skip
        if not marks:
            continue
        for mark in marks:
            h, w = mark.alpha.shape
            view = alpha[mark.y : mark.y + h, mark.x : mark.x + w]
            np.maximum(view, mark.alpha, out=view)
        lines.append(" ".join(groups))
        line_marks.append(marks)

    paper *= 1 - alpha[..., None] * (1 - ink_color(rng, spec.ink))
    draw_specks(rng, paper, spec.specks, dpi)

    matrix = tilt_matrix(width, height, sheet_tilt, pad)
    sheet = cv2.warpAffine(
        paper, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    if spec.photo:
        scene, homography = on_desk(rng, sheet, spec)
    else:
        scene, homography = sheet, None
    image_h, image_w = scene.shape[:2]
    image = scene * illumination(rng, image_h, image_w, spec.lighting, spec.shadow) * 255
    if spec.blur > 0:
        image = cv2.GaussianBlur(image, (0, 0), spec.blur)
    image = np.clip(add_noise(rng, image, spec.noise), 0, 255).round().astype(np.uint8)
    if spec.jpeg_quality is not None:
        image = jpeg_roundtrip(image, spec.jpeg_quality)

    if homography is None:
        boxes = [[box_after(matrix, m, width, height) for m in marks] for marks in line_marks]
    else:
        to_image = homography @ np.vstack([matrix, [0.0, 0.0, 1.0]])
        boxes = [
            [box_through(to_image, m, image_w, image_h) for m in marks] for marks in line_marks
        ]
    return SynthPage(image=image, lines=lines, digit_boxes=boxes, spec=spec)


PAGE_SIZES_MM = {"A5": (148.0, 210.0), "A4": (210.0, 297.0)}


def random_spec(rng: np.random.Generator, kind: str, style: str = "mnist") -> PageSpec:
    """A varied, realistic page: a scan of ``kind`` paper ("plain", "ruled" or "grid"), or
    with ``kind="photo"`` a phone photo of any of them, written in ``style``.

    For scans the fields drawn before the touching and broken digits are what they were
    before those existed, so a generator state gives the same kind of page as it did.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}")
    photo = kind == "photo"
    paper = str(rng.choice(PAPERS)) if photo else kind
    if photo:
        # What phone apps keep of a page: an effective 150-250 dpi.
        formats = [("A5", 180), ("A5", 250), ("A4", 150), ("A4", 200)]
    else:
        formats = [("A5", 200), ("A5", 300), ("A4", 200), ("A4", 300)]
    size, dpi = formats[rng.choice(len(formats), p=[0.35, 0.25, 0.2, 0.2])]
    w_mm, h_mm = PAGE_SIZES_MM[size]
    ink = str(rng.choice(INKS, p=[0.45, 0.35, 0.2]))
    pen_mm = {"blue": (0.3, 0.6), "black": (0.3, 0.7), "pencil": (0.3, 0.5)}[ink]
    # On 8-9 mm ruling people write small enough to use every line, most of the time.
    digit_mm = (3.8, 5.4) if paper == "ruled" else (4.0, 6.5)
    spec = PageSpec(
        width=round(mm(w_mm, dpi)),
        height=round(mm(h_mm, dpi)),
        dpi=float(dpi),
        paper=paper,
        ink=ink,
        tilt_degrees=float(rng.uniform(-3, 3)),
        digit_height_px=mm(rng.uniform(*digit_mm), dpi),
        pen_width_px=mm(rng.uniform(*pen_mm), dpi),
        slant_degrees=float(np.clip(rng.normal(0, 5), -12, 12)),
        n_lines=int(rng.integers(4, 9)),
        margin_line=paper == "ruled" and rng.random() < 0.7,
        lighting=float(rng.uniform(0, 0.3)),
        shadow=0.0 if rng.random() < 0.6 else float(rng.uniform(0.15, 0.5)),
        noise=float(rng.uniform(0.5, 5.0)),
        specks=int(rng.integers(0, 60)),
        blur=float(rng.uniform(0, 1.0) * dpi / 200),
        jpeg_quality=None if rng.random() < 0.3 else int(rng.integers(60, 96)),
        seed=int(rng.integers(2**31)),
    )
    # About one pair of digits in twenty nearly touching, one digit in thirty broken.
    spec = replace(
        spec, style=style, touching=float(rng.uniform(0.02, 0.08)),
        broken=float(rng.uniform(0.01, 0.05)),
    )  # fmt: skip
    if not photo:
        return spec
    # A phone held over a desk: the sheet turned further, perspective, light from a lamp or
    # window with the phone's shadow more often than not, a small noisy sensor, always JPEG.
    return replace(
        spec,
        photo=True,
        tilt_degrees=float(rng.uniform(-4, 4)),
        perspective=float(rng.uniform(0.01, 0.08)),
        lighting=float(rng.uniform(0.15, 0.45)),
        shadow=0.0 if rng.random() < 0.4 else float(rng.uniform(0.2, 0.55)),
        noise=float(rng.uniform(2.0, 6.0)),
        blur=float(rng.uniform(0.4, 1.4) * dpi / 200),
        jpeg_quality=int(rng.integers(55, 91)),
    )


def write_page(page: SynthPage, path: str | Path, jpeg_quality: int = 90) -> Path:
    """Write the page image as JPEG (.jpg, .jpeg) or PNG (.png), by the file's extension."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)]
    elif suffix == ".png":
        params = [cv2.IMWRITE_PNG_COMPRESSION, 9]
    else:
        raise ValueError(f"{path}: write .jpg, .jpeg or .png")
    ok, data = cv2.imencode(suffix, page.image, params)
    if not ok:
        raise RuntimeError(f"{path}: encoding failed")
    path.write_bytes(data.tobytes())
    return path

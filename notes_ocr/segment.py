"""Page image -> single handwritten digit blobs.

The stages, in the order ``segment_page`` runs them, each a function over plain arrays
(stages 1-5, ``clean_darkness``, run twice: on a half-size pilot that measures the digits'
height and finds where the writing is, then at the scale that height calls for, in the box
around the writing alone, ``writing_box``):

1. ``flatten.find_sheet`` / ``flatten_sheet``: in a phone photo, cut the paper out of the
   desk and undo its perspective.
2. ``paper_light`` / ``ink_darkness``: divide out the paper's uneven lighting (estimated
   once, on the pilot), so shadows and gradients vanish and what is left is how much darker
   than its paper each pixel is; what is no paper (a black scan border) holds no ink.
3. ``estimate_skew`` / ``rotate``: make the writing (and any ruling) horizontal.
4. ``remove_rulings``: divide out printed straight lines (ruled and grid paper, a field's
   baseline, a table's rules; ``ruling_lengths`` says how long) as a layer under the ink,
   so strokes that cross them stay whole.
5. ``label_ink``: hysteresis threshold above the paper's own texture, so faint pencil
   joined to firm strokes survives while paper noise and printed patterns do not, with the
   crests of faint thin strokes kept as ink (``crest_pixels``); its strong pixels, the
   strokes' cores, tell nearly touching digits apart later.
6. ``pieces_of``: connected components, specks and non-digit marks dropped, plainly
   broken digits joined, and wide blobs cut wherever touching digits could meet; then
   (``along_an_edge``) what lies in a thin strip along the page's edges is dropped. Which
   pieces form which digit is decided later, with the classifier (decode.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import pairwise

import cv2
import numpy as np

from notes_ocr.flatten import Sheet, find_sheet, flatten_sheet

# Pages are segmented at most this large (longer side, px). A 300 dpi A4 scan becomes about
# 220 dpi, where a 4 mm digit is still 35 px tall; below that, thin strokes break up and
# the page benchmark loses accuracy (7.0% CER at 1800 px against 6.2% at 2600 px).
WORK_SIDE = 2600

# Paper lit less than this share of the page's brightest paper is no paper: a scanner's
# black border, the desk. Shadows on paper are lighter (a tenth to a fifth of black borders).
NOT_PAPER = 0.3

# Darkness (0-255) below this is paper noise to the skew estimate (on the page reduced to
# 600 px).
SKEW_FLOOR = 10

# A page whose digits would be shorter than this (px) at WORK_SIDE is worked enlarged so
# that they are this tall, by at most MAX_ENLARGE times.
SMALL_DIGIT = 40.0
MAX_ENLARGE = 1.6
# The digits' height is measured on the page first shrunk this much (a quarter of the
# pixels), to choose the scale the page is worked at.
PILOT_SCALE = 0.5
# The page at its working size is cleaned and labelled only in the box around the pilot's
# writing (its components at least WRITING_LEAST typical digit heights across), widened by
# WRITING_MARGIN digit heights each way: what lies further from any digit is no separator
# and no digit. Blank paper is most of a page of notes, and each full-size stage costs
# time in proportion to its pixels.
WRITING_LEAST = 0.3
WRITING_MARGIN = 2.0
# Where the box holds more than this share of the page (a field the digits fill), it is not
# worth the cut.
WRITING_MOST = 0.8
# No digit is taller than an eighth of the largest working page (px).
LONGEST_DIGIT = WORK_SIDE / 8

# A page whose shorter side, brought down to the working size, is under this many
# pixels holds no digit that could be read, and segmentation's filters need more than that.
MIN_WORKING_SIDE = 8
# Nor does a strip longer than this many times its width: the stages look at the page's
# lighting and skew on copies a few hundred pixels long, where such a strip is a pixel thin.
MAX_ASPECT = 100
# A page whose darkest and lightest pixels are closer than this (grey levels) has no ink on
# it: all white, all black, one flat colour. Segmentation, which measures ink against the
# paper around it, would take a black page for one huge blob.
MIN_CONTRAST = 16

# Rulings are found on the page shrunk this many times along their length.
RULING_STEP = 4
# A straight line across SPAN of the page is printed (a ruling, a field's baseline, a
# table's rule), and so is one RULING_MAX digit heights long; one shorter than RULING_MIN
# digit heights is not (a digit's stroke is no longer than its height). See ruling_lengths.
RULING_MIN = 1.5
RULING_MAX = 6.0
# What lies wholly within this share of the image's longer side from an edge is the edge's
# own shadow or a crop's sliver of background, not writing.
EDGE_STRIP = 0.015
# Components that run across SPAN of the image, as a line LINE_ASPECT times as long as it is
# thick or across both ways, are rulings, borders and boxes to the height estimate.
SPAN = 0.8
LINE_ASPECT = 5.0

# Rulings are thinner than this (px on the working page, once widened against tilt).
MAX_RULING_WIDTH = 15

# The smallest ink that means something is a pen's dot (a decimal point, a colon's): a
# component of fewer than MIN_DOT_AREA pixels, or less than MIN_DOT digit heights
# across, is a speck.
MIN_DOT = 0.07
MIN_DOT_AREA = 9
# A small piece level with a digit and hardly in its columns stands beside it (a dot, a
# colon) when its middle is at least this share of the digit's height below the digit's top.
BESIDE_BELOW = 0.4

# A blob at least this many times as wide as it, or a typical digit, is tall may hold
# touching digits: it is pulled apart at thin bridges and cut at its narrow columns, at
# least MIN_PIECE_WIDTH digit heights from its ends and CUT_SPACING from another cut
# (however many that makes: a cheque's 000 is often one stroke).
SPLIT_WIDTH = 0.8
MIN_PIECE_WIDTH = 0.15
CUT_SPACING = 0.3
# A blob the classifier rejects as one digit is tried as two, cut apart along the straight
# line through the least ink that leans at most MAX_CUT_SLANT degrees from upright (tried
# every CUT_SLANT_STEP), leaving at least MIN_PART of the ink on each side (see
# `slanted_cuts`): digits written slanted and close overlap in their columns, so no upright
# cut parts them.
MAX_CUT_SLANT = 30.0
CUT_SLANT_STEP = 7.5
# Nearly touching digits are pulled apart where what is left of the blob's strong ink once
# it is eroded by JOIN_ERODE px falls into cores of at least MIN_PART of its ink each (see
# pull_apart).
JOIN_ERODE = 1
MIN_PART = 0.15
# Ink is found by hysteresis: pixels above WEAK_LEVEL of the strong level that are joined to
# strong ones (see `label_ink`).
WEAK_LEVEL = 0.6
# Writing covers a small part of any page or field (a fifth at most): the darkness at the
# TEXTURE_PERCENTILE is the paper's own, its grain or printed pattern, and no ink level is
# set below TEXTURE_MARGIN times that (nor the strong level below twice that).
TEXTURE_PERCENTILE = 80
TEXTURE_MARGIN = 1.5
# A stroke drawn lightly or thinly, and softened by blur, can fall under the weak ink level
# and break a digit (a 7 without its bar reads 1). It is kept where it is still a crest:
# above CREST_LEVEL of the strong ink level, and above the mean of its two neighbours, in
# the direction across the stroke, by CREST_HEIGHT of that level (see `crest_pixels`).
CREST_LEVEL = 0.15
CREST_HEIGHT = 0.1


@dataclass(frozen=True)
class Blob:
    """One digit candidate: its box on the working page and its ink mask within the box."""

    x: int
    y: int
    w: int
    h: int
    mask: np.ndarray  # (h, w) bool
    # Pieces cut from one connected blob share this number: their ink touches.
    source: int = -1

    @property
    def box(self) -> tuple[int, int, int, int]:
        return (self.x, self.y, self.w, self.h)


@dataclass(frozen=True)
class Segmentation:
    """A page's ink cut into pieces no larger than a digit, and where the page went.

    ``pieces`` over-segment the digits: a touching pair is cut at every column where two
    digits could meet, and a broken digit may be several pieces (see ``find_pieces``).
    """

    pieces: list[Blob]
    digit_height: float  # typical height of a digit on the working page, px
    # 3x3 homography: original page coordinates -> working coordinates (scaled, flattened
    # when the page is a photo of a sheet, deskewed).
    to_work: np.ndarray
    skew_degrees: float


def paper_light(grey: np.ndarray) -> np.ndarray:
    """The paper's brightness under each part of a grey page, at 200 px (uint8, >= 1).

    Estimated by a grey-level closing (which erases strokes thinner than the kernel, a
    twentieth of the page: even a marker on a close-up) followed by a wide median, at a
    fraction of the resolution because lighting varies slowly. A small field is enlarged
    to that resolution instead, so that the kernel is the same share of any page.
    """
    factor = 400 / max(grey.shape)
    # Not `resized`: halving first would round the size differently, and the light is
    # smooth enough for OpenCV's one step either way.
    small = cv2.resize(grey, None, fx=factor, fy=factor,
                       interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (21, 21))
    paper = cv2.morphologyEx(small, cv2.MORPH_CLOSE, kernel)
    # The median needs no more than half that resolution (and is five times faster there).
    paper = cv2.resize(paper, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    return cv2.max(cv2.medianBlur(paper, 7), 1)


def ink_darkness(grey: np.ndarray, paper: np.ndarray, origin: tuple[float, float] = (0.0, 0.0),
                 page_shape: tuple[int, ...] | None = None) -> np.ndarray:
    """How much darker than the local paper each pixel is: uint8, 0 = paper, 255 = black.

    ``paper`` is `paper_light`'s estimate for this page, at any size; ``grey`` is the
    page, or the part of a page of ``page_shape`` that starts at ``origin`` (x, y). Dividing
    by it flattens shadows, gradients and tinted paper. Where the "paper" is far darker than
    the page's own (`not_paper`: a scanner's black border, the desk beside a sheet), there
    is no paper to write on, and no ink: darkness 0. Darkness stays 8-bit, as every later
    stage works on it with OpenCV's 8-bit routines, several times faster than float.
    """
    page_shape = grey.shape if page_shape is None else page_shape
    ground = not_paper(paper)
    paper = paper_on(paper, grey.shape, origin, page_shape, cv2.INTER_LINEAR)
    # 255 * (paper - grey) / paper, saturating at 0 where a pixel is brighter than its paper.
    darkness = cv2.divide(cv2.subtract(paper, grey), paper, scale=255)
    if ground.any():  # most pages are paper to their edges
        ground = paper_on(ground, grey.shape, origin, page_shape, cv2.INTER_NEAREST)
        darkness[ground > 0] = 0
    return darkness


def paper_on(paper: np.ndarray, shape: tuple[int, ...], origin: tuple[float, float],
             page_shape: tuple[int, ...], interpolation: int) -> np.ndarray:
    """``paper`` (an estimate over a whole page, or a mask of it) stretched over a page of
    ``page_shape``, on its part of ``shape`` that starts at ``origin`` (x, y)."""
    stretched = cv2.resize(paper, (page_shape[1], page_shape[0]), interpolation=interpolation)
    left, top = round(origin[0]), round(origin[1])
    part = stretched[top : top + shape[0], left : left + shape[1]]
    # A part resized on its own may come out a pixel longer than its share of the page
    # resized whole: the edge's light goes on.
    short_y, short_x = shape[0] - part.shape[0], shape[1] - part.shape[1]
    if short_y or short_x:
        part = cv2.copyMakeBorder(part, 0, short_y, 0, short_x, cv2.BORDER_REPLICATE)
    return part


def not_paper(paper: np.ndarray) -> np.ndarray:
    """Where `paper_light`'s estimate is not paper: darker than NOT_PAPER of the page's
    brightest paper (its 95th percentile) in a region that reaches the page's edge (a
    border, a desk; a blot of ink is inside the page), and a few pixels around, where the
    estimate blurs from the one into the other. uint8, 1 = not paper, the estimate's size.
    """
    dark = (paper < NOT_PAPER * float(np.percentile(paper, 95))).astype(np.uint8)
    if not dark.any():
        return dark
    count, labels = cv2.connectedComponents(dark)
    edges = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    at_edge = np.zeros(count, np.uint8)
    at_edge[edges] = 1
    at_edge[0] = 0
    return cv2.dilate(at_edge[labels], np.ones((5, 5), np.uint8))


def estimate_skew(darkness: np.ndarray, max_degrees: float = 6.0, step: float = 0.25) -> float:
    """The rotation (degrees, counter-clockwise positive) that makes rows of ink horizontal.

    Rows of writing and ruled lines give the sharpest horizontal projection profile of the
    page's darkness when level: the angle whose profile has the largest squared steps wins,
    and no rotation unless some angle is clearly better. The profile sums darkness rather
    than counting binarised ink: at the reduced size, faint rulings fall under any ink
    threshold, yet they are the page's best guide (a few small digits alone are not).
    """
    height, width = darkness.shape
    scale = min(1.0, 600 / max(height, width))
    small = cv2.resize(darkness, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    ys, xs = np.nonzero(small > SKEW_FLOOR)
    if ys.size == 0:
        return 0.0
    weights = small[ys, xs].astype(np.float64)
    ys, xs = ys.astype(np.float64), xs.astype(np.float64)

    def sharpness(angle: float) -> float:
        # Rows of the inked pixels once turned by ``angle`` (as ``rotate`` turns the page),
        # summed without resampling, so every angle is judged alike.
        theta = np.deg2rad(angle)
        rows = np.rint(ys * np.cos(theta) - xs * np.sin(theta)).astype(np.intp)
        profile = np.bincount(rows - rows.min(), weights=weights)
        return float(np.sum(np.diff(profile) ** 2))

    angles = np.arange(-max_degrees, max_degrees + step / 2, step)
    scores = np.array([sharpness(float(a)) for a in angles])
    best = int(np.argmax(scores))
    level = scores[angles == 0.0]
    if scores[best] <= (level[0] if level.size else sharpness(0.0)) * 1.01:
        return 0.0
    return float(angles[best])


def rotation(shape: tuple[int, ...], degrees: float) -> tuple[np.ndarray, tuple[int, int]]:
    """The 2x3 map that turns an image of ``shape`` about its centre onto a canvas large
    enough to keep every corner, and the canvas's (height, width)."""
    height, width = shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    new_w = int(np.ceil(width * cos + height * sin))
    new_h = int(np.ceil(width * sin + height * cos))
    matrix[0, 2] += (new_w - width) / 2
    matrix[1, 2] += (new_h - height) / 2
    return matrix, (new_h, new_w)


def rotate(image: np.ndarray, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """Rotate about the centre onto a canvas large enough to keep every corner.

    Returns the rotated image (new area filled with 0) and the 2x3 map from old to new
    coordinates.
    """
    matrix, (new_h, new_w) = rotation(image.shape, degrees)
    if degrees == 0:
        return image, matrix
    turned = cv2.warpAffine(image, matrix, (new_w, new_h), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return turned, matrix


def label_ink(
    darkness: np.ndarray, floor: int = 56
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ink's connected components, found by hysteresis.

    Strong pixels seed the ink, and weaker ones 8-connected to them stay, so faint pencil
    joined to firm strokes survives while isolated paper noise does not. The strong level
    is Otsu's split of the non-paper pixels (darkness above 20 of 255 and above the paper's
    texture, see TEXTURE_PERCENTILE), but never below ``floor``, so a blank page's noise is
    not taken for ink; the weak level is WEAK_LEVEL of it. The crests of faint thin
    strokes (``crest_pixels``) are weak pixels too: at the weak level alone, a 7 drawn
    thinly loses its bar, a 9 its loop. With the crests kept, the weak level can be
    higher, so blur fills fewer loops and joins fewer neighbours.
    Page benchmark CER (default set / a set never tuned on): weak level a half, no crests
    3.65% / 4.01%; with crests 2.98% / 3.08%; weak level 0.6, 2.80% / 2.84%.

    Returns ``cv2.connectedComponentsWithStats``' labels and stats of the weak pixels, the
    area of each component without a strong pixel set to 0: it is not ink; and the strong
    pixels (bool). Where blur has filled the gap between two digits written nearly
    touching, the weak pixels join them but the strong ones often do not.
    """
    smooth = cv2.GaussianBlur(darkness, (3, 3), 0)
    # Patterned paper (a cheque's guilloche, a form's tint) is darker than plain paper
    # nearly everywhere; ink is darker still. Every level stands above that texture.
    texture = TEXTURE_MARGIN * level_at(smooth, TEXTURE_PERCENTILE / 100)
    above = smooth > max(20.0, texture)
    lowest = max(floor, round(2 * texture))
    high = strong_level(smooth[above], lowest)
    labels, stats = hysteresis(smooth, high, texture)
    # A table's rule or a border left along the edge is darker than most writing, and would
    # set its level for it: the level is found again without what runs across the image.
    lines = spans_image(stats, smooth.shape) & (stats[:, cv2.CC_STAT_AREA] > 0)
    lines[0] = False  # the background
    if lines.any():
        writing = ~lines[labels]
        lower = strong_level(smooth[above & writing], lowest)
        if lower < high:
            high = lower
            labels, stats = hysteresis(smooth, high, texture)
    return labels, stats, smooth > high


def level_at(image: np.ndarray, share: float) -> int:
    """The level (0-255) that ``share`` of a uint8 image's pixels do not exceed: a
    percentile, counted from its histogram (np.percentile sorts, 30 ms on a page)."""
    counts = cv2.calcHist([image], [0], None, [256], [0, 256]).ravel()
    return int(np.searchsorted(np.cumsum(counts), share * image.size))


def strong_level(candidates: np.ndarray, lowest: int) -> int:
    """Otsu's split of the non-paper pixels' darkness, between ``lowest`` and 153."""
    if candidates.size <= 100:
        return lowest
    otsu, _ = cv2.threshold(candidates.reshape(1, -1), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return int(np.clip(otsu, lowest, 153))


def hysteresis(smooth: np.ndarray, high: int, texture: float) -> tuple[np.ndarray, np.ndarray]:
    """The labels and stats of the weak pixels (and crests) of ``smooth`` darkness, the area
    of each component without a pixel above ``high`` set to 0; no level below ``texture``."""
    weak = max(WEAK_LEVEL * high, texture)
    ink = cv2.bitwise_or(
        cv2.compare(smooth, weak, cv2.CMP_GT),
        crest_pixels(smooth, max(CREST_LEVEL * high, texture), CREST_HEIGHT * high),
    )
    labels, stats = components(ink)
    seeded = np.zeros(len(stats), bool)
    seeded[labels[smooth > high]] = True
    stats[~seeded, cv2.CC_STAT_AREA] = 0
    return labels, stats


def components(ink: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``cv2.connectedComponentsWithStats`` of a page's ink (8-connected): labels and stats.

    The labels are 16-bit when a page has few enough components, as nearly every page has:
    OpenCV labels a page and gathers the stats three times faster so (8 ms against 21 ms on a
    2600 px page), and the result is the same. A page of more components (noise) takes 32.
    """
    try:
        _, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8,
                                                               ltype=cv2.CV_16U)
    except cv2.error:  # "Total number of labels overflowed label type"
        _, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    return labels, stats


def crest_pixels(darkness: np.ndarray, level: float, height: float) -> np.ndarray:
    """Pixels on the crest of a stroke: darker than ``level``, and darker than the mean of
    their two neighbours by more than ``height / 2`` along one of the four directions
    (rows, columns, diagonals), the one across the stroke.

    The second difference across a thin stroke is large even where the stroke is faint,
    while flat paper, noise-free gradients and the inside of a wide stroke have none.
    ``darkness`` is uint8, and so is the result: 255 on a crest, else 0 (the page's edge
    pixels are never crests). The means are rounded to 8 bits: this runs on every page, and
    OpenCV's 8-bit arithmetic is about twice as fast as 16-bit filters.
    """
    inner = (slice(1, -1), slice(1, -1))
    centre = darkness[inner]
    opposite_pairs = [
        (darkness[1:-1, :-2], darkness[1:-1, 2:]),  # left and right
        (darkness[:-2, 1:-1], darkness[2:, 1:-1]),  # above and below
        (darkness[:-2, :-2], darkness[2:, 2:]),  # the diagonals
        (darkness[:-2, 2:], darkness[2:, :-2]),
    ]
    lowest = None  # the lowest mean of two opposite neighbours
    for before, after in opposite_pairs:
        mean = cv2.addWeighted(before, 0.5, after, 0.5, 0)
        lowest = mean if lowest is None else cv2.min(lowest, mean)
    crests = np.zeros_like(darkness)
    crests[inner] = cv2.bitwise_and(
        cv2.compare(cv2.subtract(centre, lowest), height / 2, cv2.CMP_GT),
        cv2.compare(centre, level, cv2.CMP_GT),
    )
    return crests


def remove_rulings(darkness: np.ndarray, min_length: int | tuple[int, int]) -> np.ndarray:
    """Take the ruled and grid lines out of a darkness image, leaving the ink.

    A printed line is a layer under the ink: where a stroke crosses it, the two darken the
    paper together, ``d = 1 - (1 - ink)(1 - line)``. The line layer is what survives a grey
    opening with a straight kernel ``min_length`` long (no stroke of a digit is that long;
    one length, or the horizontal lines' and the vertical lines'),
    horizontal and vertical; dividing it out as the lighting was leaves the strokes whole
    where they cross the lines, with nothing to cut and mend.
    """
    height, width = darkness.shape
    lengths = (min_length, min_length) if isinstance(min_length, int) else min_length
    # Shrinking by a whole factor is OpenCV's fast exact average (a third of the time of
    # any other ratio): the page is padded to a multiple of RULING_STEP each way first.
    padded = cv2.copyMakeBorder(darkness, 0, -height % RULING_STEP, 0, -width % RULING_STEP,
                                cv2.BORDER_REPLICATE)
    padded_h, padded_w = padded.shape
    layer = np.zeros_like(padded)
    for horizontal, length in zip((True, False), lengths, strict=True):
        # A line left a fraction of a degree off level, or bent by a photo's perspective,
        # steps between pixel rows: widen it across by two pixels each side first, so a
        # straight kernel still fits along it (page benchmark CER 7.5% at one, 7.0% at two).
        across = (1, 5) if horizontal else (5, 1)
        widened = cv2.dilate(padded, cv2.getStructuringElement(cv2.MORPH_RECT, across))
        # A line hardly changes along its length: find it on the image shrunk RULING_STEP
        # times along the line (a quarter of the pixels, a kernel a quarter as long).
        if horizontal:
            shrunk = (padded_w // RULING_STEP, padded_h)
            along = (max(1, length // RULING_STEP), 1)
        else:
            shrunk = (padded_w, padded_h // RULING_STEP)
            along = (1, max(1, length // RULING_STEP))
        small = cv2.resize(widened, shrunk, interpolation=cv2.INTER_AREA)
        lines = cv2.morphologyEx(
            small, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, along)
        )
        # Printed lines are thin. What is long and thick is a stroke of a digit written
        # larger than an eighth of the page (a close-up photo): keep that as ink.
        thick = (1, MAX_RULING_WIDTH) if horizontal else (MAX_RULING_WIDTH, 1)
        lines = cv2.subtract(lines, cv2.morphologyEx(
            lines, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, thick)
        ))
        lines = cv2.resize(lines, (padded_w, padded_h), interpolation=cv2.INTER_LINEAR)
        cv2.max(layer, lines, dst=layer)
    layer = layer[:height, :width]
    # 255 * (darkness - layer) / (255 - layer), the layer kept below 95% black (242).
    layer = cv2.min(layer, 242)
    return cv2.divide(cv2.subtract(darkness, layer), cv2.subtract(255, layer), scale=255)


def ruling_lengths(shape: tuple[int, ...], digit_height: float, longest: float
                   ) -> tuple[int, int]:
    """How long a straight line is at least to be a ruling, horizontal and vertical (px).

    SPAN of the page across, held between RULING_MIN and RULING_MAX digit heights when the
    digits' height is known (a field's baseline or a cell's rule spans it; on a page, a
    printed line a few digits long is no writing; in a field as tall as its digits, no
    vertical line is a rule). Not knowing the digits' height (0), lines across SPAN, or
    ``longest`` px long: no digit is taller, and a longer kernel only costs time.
    """
    height, width = shape[:2]
    lengths = np.array([SPAN * width, SPAN * height])
    if digit_height > 0:
        lengths = np.clip(lengths, RULING_MIN * digit_height, RULING_MAX * digit_height)
    else:
        lengths = np.minimum(lengths, longest)
    horizontal, vertical = (int(length) for length in np.rint(lengths))
    return horizontal, vertical


def typical_height(stats: np.ndarray, shape: tuple[int, ...]) -> float:
    """Typical digit height: the area-weighted median height of the ink's components.

    ``stats`` are ``label_ink``'s, ``shape`` the image's. Components smaller than
    ``min_area(shape)`` are left out; weighting by area lets the digits outvote the many
    small fragments (specks, detached bars, broken strokes) that a plain median would follow.
    Returns 0 when there is no ink.
    """
    heights = stats[1:, cv2.CC_STAT_HEIGHT]
    areas = stats[1:, cv2.CC_STAT_AREA]
    big = areas >= min_area(shape)
    # What runs across most of the image is a ruling, a border or a box, not a digit (a
    # 1 filling a field's height is one too, but the other digits speak for it).
    spanning = spans_image(stats[1:], shape)
    if (big & ~spanning).any():
        big &= ~spanning
    if not big.any():
        return 0.0
    order = np.argsort(heights[big])
    weights = np.cumsum(areas[big][order])
    middle = int(np.searchsorted(weights, weights[-1] / 2))
    return float(heights[big][order][middle])


def spans_image(stats: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Which components (rows of ``cv2.connectedComponentsWithStats``' stats) run across
    SPAN of the image's width or height as a line (at least LINE_ASPECT times as long as
    their ink is thick), or across SPAN of both."""
    height, width = shape[:2]
    w, h = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
    long = np.maximum(w, h)
    thickness = stats[:, cv2.CC_STAT_AREA] / np.maximum(long, 1)
    wide, tall = w >= SPAN * width, h >= SPAN * height
    return ((wide | tall) & (long >= LINE_ASPECT * thickness)) | (wide & tall)


def along_an_edge(pieces: list[Blob], to_work: np.ndarray, shape: tuple[int, ...]
                  ) -> np.ndarray:
    """Which pieces (on the working page, which ``to_work`` maps the page to) lie wholly in
    the strip along an edge of the page as given (``shape``) that is EDGE_STRIP of its
    longer side wide: the dark edge a crop or a scanner leaves, not a digit (which reaches
    further in, even where it touches the edge)."""
    if not pieces:
        return np.zeros(0, bool)
    height, width = shape[:2]
    strip = max(2.0, EDGE_STRIP * max(height, width))
    left, top, right, bottom = on_page(np.array([piece.box for piece in pieces]), to_work)
    return ((right <= strip) | (left >= width - strip) | (bottom <= strip)
            | (top >= height - strip))


def on_page(boxes: np.ndarray, to_work: np.ndarray) -> tuple[np.ndarray, ...]:
    """Where (N, 4) boxes (x, y, w, h) of the working page lie on the page as given, which
    the homography ``to_work`` maps to the working page: the left, top, right and bottom
    of each box's corners mapped back, float (N,) each."""
    x, y, w, h = np.asarray(boxes, np.float64).reshape(-1, 4).T
    corners = np.stack([[x, y], [x + w, y], [x, y + h], [x + w, y + h]])  # (4, 2, N)
    mapped = cv2.perspectiveTransform(corners.transpose(2, 0, 1).reshape(1, -1, 2),
                                      np.linalg.inv(to_work)).reshape(-1, 4, 2)
    left, top = mapped.min(axis=1).T
    right, bottom = mapped.max(axis=1).T
    return left, top, right, bottom


def min_area(shape: tuple[int, ...]) -> int:
    """Components of fewer pixels than this are specks, not ink of a digit."""
    return max(12, (max(shape) // 400) ** 2)


def holds_no_digits(grey: np.ndarray) -> bool:
    """Whether a grey page plainly holds no digit, and is better not segmented at all: too
    small or too thin a strip to hold one, or with no ink on it (one flat level)."""
    short, long = sorted(grey.shape[:2])
    scale = min(1.0, WORK_SIDE / max(long, 1))
    if short * scale < MIN_WORKING_SIDE or long > MAX_ASPECT * short:
        return True
    return int(grey.max()) - int(grey.min()) < MIN_CONTRAST


def segment_page(grey: np.ndarray) -> Segmentation:
    """Cut a grey page image (uint8, dark ink on light paper) into digit pieces.

    The page is worked at WORK_SIDE, or larger (by MAX_ENLARGE at most) when its digits
    would be shorter than SMALL_DIGIT px there: thin strokes of small digits break up and
    touching ones merge. Their height is measured first on a copy PILOT_SCALE times as
    large, where the sheet and the skew are found once for both. A page too small, too thin
    or too flat to hold a digit (``holds_no_digits``) has no pieces.
    """
    scale = min(1.0, WORK_SIDE / max(grey.shape))
    if holds_no_digits(grey):
        return Segmentation([], 0.0, to_work=np.diag([scale, scale, 1.0]), skew_degrees=0.0)
    pilot = clean_darkness(grey, scale * PILOT_SCALE, PILOT_SCALE * LONGEST_DIGIT)
    _, stats, _ = label_ink(pilot.darkness)
    digit_height = typical_height(stats, pilot.darkness.shape) / PILOT_SCALE
    writing = writing_corners(stats, pilot.darkness.shape, digit_height * PILOT_SCALE,
                              pilot.to_work)
    if 0 < digit_height < SMALL_DIGIT:
        # Enlarging a small field costs little: only a large page is held to MAX_ENLARGE.
        room = max(MAX_ENLARGE, WORK_SIDE / (scale * max(grey.shape)))
        enlarge = min(room, SMALL_DIGIT / digit_height)
        scale *= enlarge
        digit_height *= enlarge
        writing = None  # the pilot is too coarse to tell where such small writing is
    page = clean_darkness(grey, scale, LONGEST_DIGIT, pilot.sheet, pilot.skew, pilot.paper,
                          digit_height, writing)
    pieces, digit_height = pieces_of(*label_ink(page.darkness))
    pieces = [piece for piece, edge in
              zip(pieces, along_an_edge(pieces, page.to_work, grey.shape), strict=True)
              if not edge]
    return Segmentation(pieces, digit_height, to_work=page.to_work, skew_degrees=page.skew)


def writing_corners(stats: np.ndarray, shape: tuple[int, ...], digit_height: float,
                    to_work: np.ndarray) -> np.ndarray | None:
    """The corners (4, 2) on the page as given of the box around the writing that
    ``label_ink``'s ``stats`` find on a working page of ``shape`` (which ``to_work`` maps the
    page to): its components at least WRITING_LEAST digit heights across, no specks (with
    what the pilot left of any line: a digit may touch a field's baseline). None when there
    are none."""
    if digit_height <= 0:
        return None
    x, y, w, h = stats[1:, :4].T
    # Faint strokes the pilot found no strong pixel in may be ink at the full size.
    writing = np.maximum(w, h) >= WRITING_LEAST * digit_height
    if not writing.any():
        return None
    left, top = x[writing].min(), y[writing].min()
    right, bottom = (x + w)[writing].max(), (y + h)[writing].max()
    corners = np.array([[left, top], [right, top], [left, bottom], [right, bottom]], np.float64)
    return cv2.perspectiveTransform(corners.reshape(1, -1, 2),
                                    np.linalg.inv(to_work)).reshape(-1, 2)


def writing_box(writing: np.ndarray, to_work: np.ndarray, shape: tuple[int, ...],
                digit_height: float, lengths: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """The box (left, top, right, bottom) of a working page of ``shape`` (which ``to_work``
    maps the page to) to clean and label: around the ``writing``'s corners (page
    coordinates) widened by WRITING_MARGIN digit heights, and at least the rulings'
    ``lengths`` (horizontal, vertical) and a margin each way, so that the rulings are still
    found in it. None where that box holds more than WRITING_MOST of the page."""
    height, width = shape[:2]
    mapped = cv2.perspectiveTransform(writing.reshape(1, -1, 2), to_work).reshape(-1, 2)
    margin = WRITING_MARGIN * digit_height
    low, high = mapped.min(axis=0) - margin, mapped.max(axis=0) + margin
    grow = np.maximum(0.0, np.add(lengths, 2 * margin) - (high - low)) / 2
    # Cut at multiples of RULING_STEP, so the rulings are found on the same blocks of
    # pixels as on the whole page.
    left, top = np.maximum(0, np.floor(low - grow)).astype(int) // RULING_STEP * RULING_STEP
    right, bottom = np.minimum([width, height], np.ceil(high + grow)).astype(int)
    if (right - left) * (bottom - top) > WRITING_MOST * width * height:
        return None
    return int(left), int(top), int(right), int(bottom)


def shift(x: float, y: float) -> np.ndarray:
    """The 3x3 map that moves a point by (x, y)."""
    return np.array([[1.0, 0.0, x], [0.0, 1.0, y], [0.0, 0.0, 1.0]])


def resized_shape(shape: tuple[int, ...], scale: float) -> tuple[int, int]:
    """The (height, width) of an image of ``shape`` resized by ``scale`` in one step."""
    return int(np.rint(shape[0] * scale)), int(np.rint(shape[1] * scale))


def resized(image: np.ndarray, scale: float) -> np.ndarray:
    """``image`` resized by ``scale``: averaged when shrunk, cubic when enlarged.

    Shrunk by more than half, it is halved first: OpenCV averages 2x2 blocks several times
    faster than it resizes by any other ratio (an A4 scan at 300 dpi to a 1300 px pilot:
    4 ms against 11).
    """
    if scale == 1.0:
        return image
    if scale < 0.5:
        height, width = image.shape[:2]
        image = cv2.resize(image[: height // 2 * 2, : width // 2 * 2], (width // 2, height // 2),
                           interpolation=cv2.INTER_AREA)
        return resized(image, scale * 2)
    interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_CUBIC
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=interpolation)


@dataclass(frozen=True)
class CleanPage:
    """A page's darkness with the paper's light, the sheet's perspective, the skew and the
    rulings taken out, and how it was made."""

    darkness: np.ndarray  # uint8, 0 = paper
    to_work: np.ndarray  # 3x3 homography: page coordinates -> ``darkness`` coordinates
    sheet: Sheet | None  # the paper found in a photo, in page coordinates, or None
    skew: float  # degrees turned
    paper: np.ndarray  # `paper_light` of the flattened sheet, before the skew is undone


def clean_darkness(
    grey: np.ndarray,
    scale: float,
    longest: float,
    sheet: Sheet | None = None,
    skew: float | None = None,
    paper: np.ndarray | None = None,
    digit_height: float = 0.0,
    writing: np.ndarray | None = None,
) -> CleanPage:
    """``grey`` resized by ``scale``, flattened, deskewed, as darkness without rulings.

    The ``sheet`` (page coordinates), the ``skew`` and the ``paper``'s light are
    found when not given; the pilot's serve the page at any scale (the light is estimated
    at 200 px either way). Rulings are the straight lines `ruling_lengths` long, no digit
    being ``longest`` px tall. Given the ``writing``'s corners (page coordinates) and the
    ``digit_height``, only the box around the writing (`writing_box`) is made.
    """
    if writing is not None and digit_height > 0 and sheet is None and skew is not None \
            and paper is not None:
        # Without a sheet to flatten, the box is found before any full-size work, and only
        # the part of the page under it is resized, divided by its light and turned.
        turn, turned_shape = rotation(resized_shape(grey.shape, scale), skew)
        to_work = np.vstack([turn, [0, 0, 1]]) @ np.diag([scale, scale, 1.0])
        lengths = ruling_lengths(turned_shape, digit_height, longest)
        box = writing_box(writing, to_work, turned_shape, digit_height, lengths)
        if box is not None:
            left, top, right, bottom = box
            darkness = darkness_in(grey, scale, paper, to_work, box)
            to_work = shift(-left, -top) @ to_work
            darkness = remove_rulings(darkness, lengths)
            return CleanPage(darkness, to_work, sheet, skew, paper)
        writing = None  # it covers most of the page: the whole page is worked
    to_work = np.diag([scale, scale, 1.0])
    grey = resized(grey, scale)
    if skew is None:
        found = find_sheet(grey)
        sheet = None if found is None else found.scaled(1 / scale)
    if sheet is not None:
        grey, homography = flatten_sheet(grey, sheet.scaled(scale))
        to_work = homography @ to_work
    if paper is None:
        paper = paper_light(grey)
    darkness = ink_darkness(grey, paper)
    if skew is None:
        skew = estimate_skew(darkness)
    darkness, turn = rotate(darkness, skew)
    to_work = np.vstack([turn, [0, 0, 1]]) @ to_work
    lengths = ruling_lengths(darkness.shape, digit_height, longest)
    box = None if writing is None or digit_height <= 0 else \
        writing_box(writing, to_work, darkness.shape, digit_height, lengths)
    if box is not None:
        left, top, right, bottom = box
        darkness = darkness[top:bottom, left:right]
        to_work = shift(-left, -top) @ to_work
    darkness = remove_rulings(darkness, lengths)
    return CleanPage(darkness, to_work, sheet, skew, paper)


def darkness_in(grey: np.ndarray, scale: float, paper: np.ndarray, to_work: np.ndarray,
                box: tuple[int, int, int, int]) -> np.ndarray:
    """The darkness in ``box`` (left, top, right, bottom) of the working page that
    ``to_work`` maps ``grey`` to: ``grey`` resized by ``scale`` and turned. Only the part of
    ``grey`` under the box is resized and divided by its ``paper``'s light; it is then
    turned into the box."""
    left, top, right, bottom = box
    corners = np.array([[left, top], [right, top], [left, bottom], [right, bottom]], np.float64)
    under = cv2.perspectiveTransform(corners.reshape(1, -1, 2),
                                     np.linalg.inv(to_work)).reshape(-1, 2)
    # Two pixels more each way, for the interpolation at the box's edges.
    height, width = grey.shape[:2]
    x0, y0 = np.maximum(0, np.floor(under.min(axis=0) - 2 / scale)).astype(int)
    x1, y1 = np.minimum([width, height], np.ceil(under.max(axis=0) + 2 / scale)).astype(int)
    part = resized(grey[y0:y1, x0:x1], scale)
    origin = (x0 * scale, y0 * scale)
    darkness = ink_darkness(part, paper, origin, resized_shape(grey.shape, scale))
    # The part's pixels -> the box: the part's place on the resized page, then the turn.
    to_box = shift(-left, -top) @ to_work @ np.diag([1 / scale, 1 / scale, 1]) @ shift(*origin)
    return cv2.warpAffine(darkness, to_box[:2], (right - left, bottom - top),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def find_pieces(mask: np.ndarray) -> tuple[list[Blob], float]:
    """Over-segment a clean ink mask into pieces no larger than one digit (see ``pieces_of``)."""
    mask = mask.astype(bool)
    labels, stats = components(mask.view(np.uint8))
    return pieces_of(labels, stats, strong=mask)


def pieces_of(
    labels: np.ndarray, stats: np.ndarray, strong: np.ndarray
) -> tuple[list[Blob], float]:
    """Over-segment the ink's connected components into pieces no larger than one digit.

    ``labels`` and ``stats`` are as ``cv2.connectedComponentsWithStats`` gives them
    (label 0 the background; a component of area 0 is ignored), ``strong`` the ink's
    firmest pixels (bool, as ``label_ink`` gives them; the whole ink when there is no
    telling). Specks and shapes no digit could be are dropped, pieces of a broken digit
    that are plainly one (stacked, or a small piece on a big one) are joined, nearly
    touching digits are pulled apart, and every blob wide enough to hold touching
    digits is cut at each column where two digits could meet. Which pieces make up which
    digit is left to the decoder (``decode.propose`` and ``decode.choose``), which asks
    the classifier. Returns the pieces and the typical digit height (0 with no ink).
    """
    digit_height = typical_height(stats, labels.shape)
    if digit_height <= 0:
        return [], 0.0
    boxes = stats[1:, :4].astype(int)
    areas = stats[1:, cv2.CC_STAT_AREA].astype(int)
    keep = areas >= max(MIN_DOT_AREA, (MIN_DOT * digit_height) ** 2)
    pieces: list[Blob] = []
    for source, members in enumerate(merge_pieces(boxes, keep, digit_height)):
        blob = blob_of(labels, boxes, members)
        if not plausible_piece(blob, digit_height):
            continue
        cores = strong[blob.y : blob.y + blob.h, blob.x : blob.x + blob.w] & blob.mask
        for part in pull_apart(blob, digit_height, cores):
            cuts = join_columns(part, digit_height)
            pieces.extend(replace(piece, source=source) for piece in cut_at(part, cuts))
    return pieces, digit_height


def pull_apart(blob: Blob, digit_height: float, strong: np.ndarray | None = None) -> list[Blob]:
    """Split a wide blob where digits written nearly touching are joined by a thin bridge.

    Blur and binarisation fill the pixel or two between neighbouring digits; unlike a
    column cut, this separates digits whose boxes interleave (a 6 tucked under a 2's tail).
    The bridge is thin, and fainter than the strokes: the blob is eroded by JOIN_ERODE px
    and what is left of its ``strong`` pixels (bool, its shape; all of its ink when None)
    are its cores. If two or more hold at least MIN_PART of its ink, every ink pixel goes
    to the nearest core. Otherwise (a single digit, or thin strokes that erosion breaks
    everywhere) the blob stays whole.
    """
    if blob.w < SPLIT_WIDTH * max(blob.h, digit_height):
        return [blob]
    mask = np.pad(blob.mask, 1).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * JOIN_ERODE + 1,) * 2)
    core_mask = cv2.erode(mask, kernel)
    if strong is not None:
        core_mask &= np.pad(strong, 1).view(np.uint8)
    _, cores, stats, _ = cv2.connectedComponentsWithStats(core_mask, connectivity=8)
    big = np.flatnonzero(stats[1:, cv2.CC_STAT_AREA] >= MIN_PART * blob.mask.sum()) + 1
    if len(big) < 2:
        return [blob]
    seeds = np.isin(cores, big)
    # Label each pixel with the nearest seed's connected component, then name that
    # component by the core it is.
    _, nearest = cv2.distanceTransformWithLabels(
        (~seeds).astype(np.uint8), cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_CCOMP
    )
    core_of = np.zeros(nearest.max() + 1, int)
    core_of[nearest[seeds]] = cores[seeds]
    owner = core_of[nearest][1:-1, 1:-1]
    return [_cropped(blob, blob.mask & (owner == core)) for core in big]


def blob_of(labels: np.ndarray, boxes: np.ndarray, members: list[int]) -> Blob:
    """The blob made of the given components (0-based indices into ``boxes``)."""
    x0 = min(boxes[i, 0] for i in members)
    y0 = min(boxes[i, 1] for i in members)
    x1 = max(boxes[i, 0] + boxes[i, 2] for i in members)
    y1 = max(boxes[i, 1] + boxes[i, 3] for i in members)
    mask = np.isin(labels[y0:y1, x0:x1], [i + 1 for i in members])
    return Blob(int(x0), int(y0), int(x1 - x0), int(y1 - y0), mask)


def merge_pieces(boxes: np.ndarray, keep: np.ndarray, digit_height: float) -> list[list[int]]:
    """Group the components that are plainly pieces of one digit.

    Pieces whose columns overlap by half the narrower one (a broken 8, a 5's detached bar),
    or a small piece over a big one, are joined when together they are no taller than a
    tall digit. Pieces side by side are left apart: whether they are one broken digit or
    two is the classifier's question.
    """
    index = [int(i) for i in np.flatnonzero(keep)]
    parent = {i: i for i in index}

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    order = sorted(index, key=lambda i: boxes[i, 0])
    for a_pos, a in enumerate(order):
        ax, ay, aw, ah = boxes[a]
        for b in order[a_pos + 1 :]:
            bx, by, bw, bh = boxes[b]
            if bx > ax + aw:
                break
            overlap = min(ax + aw, bx + bw) - max(ax, bx)
            small = min(ah, bh) < 0.5 * digit_height
            if overlap < (0 if small else 0.5 * min(aw, bw)):
                continue
            top, bottom = min(ay, by), max(ay + ah, by + bh)
            if bottom - top > 1.3 * digit_height:
                continue
            shared_rows = min(ay + ah, by + bh) - max(ay, by)
            if not small and shared_rows > 0.5 * min(ah, bh):
                continue
            # A small piece level with a big one, below its top and hardly in its columns,
            # stands beside it (a dot, a colon, a comma or a dash after a digit), not over or
            # under it. At the top, it is more likely a digit's own broken-off stroke (a
            # 9's loop, a 5's flag).
            (sy, sw, sh), (ly, lh) = (((ay, aw, ah), (by, bh)) if ah < bh
                                      else ((by, bw, bh), (ay, ah)))
            if (small and shared_rows >= 0.8 * sh and overlap < 0.5 * sw
                    and sy + sh / 2 - ly >= BESIDE_BELOW * lh):
                continue
            ra, rb = root(a), root(b)
            if ra != rb:
                parent[rb] = ra
    groups: dict[int, list[int]] = {}
    for i in index:
        groups.setdefault(root(i), []).append(i)
    return sorted(groups.values(), key=lambda members: min(boxes[i, 0] for i in members))


def plausible_piece(blob: Blob, digit_height: float) -> bool:
    """Reject shapes that are not (part of) a digit: page-high drawings, underlines, dashes."""
    if blob.h > 2.5 * digit_height:
        return False
    if blob.w > 6 * max(blob.h, 0.4 * digit_height):  # an underline, not a run of digits
        return False
    return True


def join_columns(blob: Blob, digit_height: float) -> list[int]:
    """Columns where a blob may hold two touching digits: the narrow places in its ink.

    Touching digits meet where there is little ink in a column, so every local minimum of
    the blob's column profile at least MIN_PIECE_WIDTH from the ends and from another cut is
    a candidate (the thinnest first). Cutting a single digit there too is harmless: the
    decoder reads the joined pieces as well and keeps the better reading.
    """
    if blob.w < SPLIT_WIDTH * max(blob.h, digit_height):
        return []
    profile = blob.mask.sum(axis=0).astype(np.float32)
    profile = np.convolve(profile, np.ones(3, np.float32) / 3, mode="same")
    margin = max(1, int(MIN_PIECE_WIDTH * digit_height))
    inner = np.arange(margin, blob.w - margin)
    if inner.size == 0:
        return []
    left = np.r_[np.inf, profile[:-1]]
    right = np.r_[profile[1:], np.inf]
    minima = inner[(profile[inner] <= left[inner]) & (profile[inner] <= right[inner])]
    cuts: list[int] = []
    for column in minima[np.argsort(profile[minima], kind="stable")]:
        if all(abs(int(column) - cut) >= CUT_SPACING * digit_height for cut in cuts):
            cuts.append(int(column))
    return sorted(cuts)


def join(a: Blob, b: Blob) -> Blob:
    """One blob holding the ink of both."""
    x0, y0 = min(a.x, b.x), min(a.y, b.y)
    x1, y1 = max(a.x + a.w, b.x + b.w), max(a.y + a.h, b.y + b.h)
    mask = np.zeros((y1 - y0, x1 - x0), bool)
    for blob in (a, b):
        mask[blob.y - y0 : blob.y - y0 + blob.h, blob.x - x0 : blob.x - x0 + blob.w] |= blob.mask
    return Blob(x0, y0, x1 - x0, y1 - y0, mask)


def cut_at(blob: Blob, cuts: list[int]) -> list[Blob]:
    """Cut a blob at the given columns into pieces, each cropped to its ink."""
    out = []
    for left, right in pairwise([0, *cuts, blob.w]):
        part = blob.mask[:, left:right]
        rows = np.flatnonzero(part.any(axis=1))
        if right - left < 1 or rows.size == 0:
            continue
        top, bottom = rows[0], rows[-1] + 1
        out.append(Blob(blob.x + left, blob.y + top, right - left, bottom - top,
                        part[top:bottom]))
    return out


def slanted_cuts(blob: Blob, count: int, min_height: float = 0.0) -> list[tuple[Blob, Blob]]:
    """The ``count`` straight cuts through a blob's ink that cross the least of it.

    Each slant's best cut is found at once: shifting the blob's rows by the slant turns its
    cut lines into columns, and the column crossing the least ink, with MIN_PART of the ink
    on either side of it, is that slant's cut (nearest the middle on a tie). Cuts leaving a
    piece shorter than ``min_height`` px are passed over. Returns (left, right) pieces,
    each cropped to its ink, the cut crossing the least ink first; pixels on the line go
    right.
    """
    mask = blob.mask.astype(bool)
    height, width = mask.shape
    total = int(mask.sum())
    if total == 0 or width < 2:
        return []
    rows, cols = np.arange(height), np.arange(width)
    # Pixels left of column x in each row, for x from 0 to width.
    before = np.zeros((height, width + 1), np.int64)
    np.cumsum(mask, axis=1, out=before[:, 1:])
    off_centre = np.abs(cols - (width - 1) / 2)
    found = []
    for degrees in np.arange(-MAX_CUT_SLANT, MAX_CUT_SLANT + 1e-9, CUT_SLANT_STEP):
        # The cut through column x on the middle row runs through x + shift on each row; a
        # positive slant leans the cut's top to the right, as handwriting leans.
        shift = np.rint(((height - 1) / 2 - rows) * np.tan(np.radians(degrees))).astype(int)
        columns = cols[None, :] + shift[:, None]  # (height, width)
        inside = (columns >= 0) & (columns < width)
        crossed = np.where(inside, mask[rows[:, None], np.clip(columns, 0, width - 1)], False)
        left_ink = before[rows[:, None], np.clip(columns, 0, width)].sum(axis=0)
        fair = (left_ink >= MIN_PART * total) & (total - left_ink >= MIN_PART * total)
        if not fair.any():
            continue
        ink_crossed = crossed.sum(axis=0)
        order = np.lexsort((off_centre, ink_crossed))
        best = int(order[fair[order]][0])
        found.append((int(ink_crossed[best]), abs(degrees), best, shift))
    found.sort(key=lambda item: item[:2])
    cuts = []
    for _, _, column, shift in found:
        left = mask & (cols[None, :] < (column + shift)[:, None])
        halves = (_cropped(blob, left), _cropped(blob, mask & ~left))
        if min(half.h for half in halves) >= min_height:
            cuts.append(halves)
        if len(cuts) == count:
            break
    return cuts


def _cropped(blob: Blob, part: np.ndarray) -> Blob:
    """The ink ``part`` of ``blob``'s mask as a blob of its own, cropped to it."""
    rows, cols = np.flatnonzero(part.any(axis=1)), np.flatnonzero(part.any(axis=0))
    top, left = int(rows[0]), int(cols[0])
    crop = part[top : rows[-1] + 1, left : cols[-1] + 1]
    return Blob(blob.x + left, blob.y + top, crop.shape[1], crop.shape[0], crop, blob.source)

"""Find the paper in the frame and flatten it.

A scan is all paper. A photo shows a sheet, an index card or a sticky note lying on a desk:
paper is smooth and bright, and what it lies on is textured (wood, leather, a mouse pad) or
darker. Flattening maps the paper's outline back to an upright rectangle, so that lines of
writing are straight and digits keep their shapes, and whatever of the desk is left beside
the paper is painted over as blank paper: nothing outside the paper is ever ink.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Working size for the search (longer side, px); the outline is scaled back to the image.
SEARCH_SIDE = 600
# Paper is smooth: the standard deviation of its brightness over a few pixels is under this
# share of the brightness (0.005-0.01 on paper, 0.06-0.25 on leather, wood and mouse pads,
# whose grain and highlights are what sets them apart from paper in grey).
SMOOTH = 0.03
# And bright: at least this share of the frame's brightest parts (shadowed paper included).
BRIGHT = 0.35
# A sheet covers at least this share of the frame (a sticky note far off still does), and
# less than MAX_SHEET_AREA: paper filling the frame is a scan or a close-up, nothing to cut.
MIN_SHEET_AREA = 0.02
MAX_SHEET_AREA = 0.9
# A sheet, at any angle, fills nearly all of its convex outline.
MIN_FILL = 0.85
# What lies just outside the sheet's edges is darker than this share of the paper just
# inside them.
CONTRAST = 0.8
# How far inside its outline the sheet is cut out (a share of the way to its centre): a
# sliver of dark desk along the sheet's edge would read as a ruling or a row of 1s.
SHEET_INSET = 0.015


@dataclass(frozen=True)
class Sheet:
    """The paper found in a photo, in the image's pixels."""

    corners: np.ndarray  # (4, 2) float32: top-left, top-right, bottom-right, bottom-left
    outline: np.ndarray  # (N, 2) float32: the paper seen, a convex polygon

    def scaled(self, factor: float) -> Sheet:
        """The same sheet in an image resized by ``factor``."""
        return Sheet(self.corners * np.float32(factor), self.outline * np.float32(factor))


def find_sheet(grey: np.ndarray) -> Sheet | None:
    """The paper in a photo, or None when the frame shows no sheet apart from its ground.

    Three outlines are tried: the largest region that is smooth and bright (robust to a
    textured desk, and to shadows across the paper), the largest closed edge (robust to a
    smooth desk lit as brightly as the paper's shade), and the bright region by Otsu's
    threshold. Each must nearly fill its convex outline and cover MIN_SHEET_AREA to
    MAX_SHEET_AREA of the frame, and its four-cornered outline must divide paper from a
    ground darker than CONTRAST of it, along its edges; of those, the one whose weakest
    edge is the sharpest wins (an outline cut along a shadow on the paper has a weak edge).
    The paper may be of any size down to a sticky note, turned any way up to 45 degrees,
    and run out of the frame. None for a scan (paper fills the frame), or when no outline
    stands out.
    """
    # A small image is enlarged to the search size, so that the filters below are the
    # same share of any frame.
    scale = SEARCH_SIDE / max(grey.shape)
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=interpolation)
    if paper_to_the_edges(small):
        return None
    frame = small.shape[0] * small.shape[1]
    best, best_weakest = None, np.inf
    for outline in candidate_outlines(small):
        area = cv2.contourArea(outline)
        if not MIN_SHEET_AREA * frame <= area <= MAX_SHEET_AREA * frame:
            continue
        hull = cv2.convexHull(outline)
        if area < MIN_FILL * cv2.contourArea(hull):
            continue
        corners = quadrilateral(hull)
        if corners is None:
            continue
        contrast, weakest = edge_contrast(small, corners)
        if contrast < CONTRAST and weakest < best_weakest:
            best, best_weakest = (corners, hull.reshape(-1, 2).astype(np.float32)), weakest
    if best is None:
        return None
    corners, outline = best
    # Step just inside the outline: the sheet's edge is where the desk begins.
    corners = corners + (corners.mean(axis=0) - corners) * SHEET_INSET
    return Sheet(upright_corners(corners) / np.float32(scale), outline / np.float32(scale))


def paper_to_the_edges(small: np.ndarray) -> bool:
    """Whether nearly all of the frame's edge is as bright as its paper: a scan, or a
    close-up, with no ground to cut away (most pages; this saves them the search)."""
    band = max(2, round(0.02 * max(small.shape)))
    edge = np.concatenate([small[:band].ravel(), small[-band:].ravel(),
                           small[:, :band].ravel(), small[:, -band:].ravel()])
    return float(np.percentile(edge, 10)) >= CONTRAST * float(np.median(small))


def candidate_outlines(small: np.ndarray) -> list[np.ndarray]:
    """The largest outline by each of three tellings of paper from ground (see find_sheet)."""
    blurred = cv2.GaussianBlur(small, (5, 5), 0)
    values = small.astype(np.float32)
    mean = cv2.blur(values, (7, 7))
    deviation = np.sqrt(np.maximum(cv2.blur(values * values, (7, 7)) - mean * mean, 0))
    bright = mean > BRIGHT * float(np.percentile(mean, 99))
    smooth = ((deviation < SMOOTH * np.maximum(mean, 1)) & bright).astype(np.uint8)
    # Close the writing and the rulings into the paper around them, then drop what is
    # left of smooth specks on the desk.
    smooth = cv2.morphologyEx(smooth, cv2.MORPH_CLOSE, disk(15))
    smooth = cv2.morphologyEx(smooth, cv2.MORPH_OPEN, disk(9))
    edges = cv2.dilate(cv2.Canny(blurred, 30, 100), np.ones((3, 3), np.uint8))
    _, otsu = cv2.threshold(blurred, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    otsu = cv2.morphologyEx(otsu, cv2.MORPH_CLOSE, disk(15))
    outlines = []
    for mask in (smooth, edges, otsu):
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        if contours:
            outlines.append(max(contours, key=cv2.contourArea))
    return outlines


def disk(size: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))


def edge_contrast(small: np.ndarray, corners: np.ndarray) -> tuple[float, float]:
    """How dark the ground just outside the quadrilateral ``corners`` is against the paper
    just inside it, point by point along its edges (in the frame): the median ratio of the
    two over all its edges, and over its weakest edge (the highest of the edges' medians).

    Compared point by point, a shadow across the sheet and its ground, or a desk lit
    unevenly, leaves the ratio as it is; a quadrilateral cut along a shadow on the paper
    has one weak edge. (1, 1) where there is no telling.
    """
    blurred = cv2.blur(small.astype(np.float32), (5, 5))
    height, width = small.shape
    step = max(3.0, 0.01 * max(height, width))  # how far inside and outside to look
    centre = corners.mean(axis=0)
    edges = []
    for start, stop in zip(corners, np.roll(corners, -1, axis=0), strict=True):
        along = stop - start
        normal = np.array([along[1], -along[0]]) / max(float(np.linalg.norm(along)), 1e-6)
        if np.dot(normal, (start + stop) / 2 - centre) < 0:
            normal = -normal  # pointing out of the sheet
        points = start + np.linspace(0.1, 0.9, 40)[:, None] * along
        inner = np.rint(points - step * normal).astype(int)
        outer = np.rint(points + step * normal).astype(int)
        seen = ((inner >= 0) & (inner < (width, height))).all(axis=1) & (
            (outer >= 0) & (outer < (width, height))).all(axis=1)
        if seen.sum() >= 10:  # else the edge is out of the frame
            paper = blurred[inner[seen, 1], inner[seen, 0]]
            edges.append(blurred[outer[seen, 1], outer[seen, 0]] / np.maximum(paper, 1.0))
    if not edges:
        return 1.0, 1.0
    return float(np.median(np.concatenate(edges))), max(float(np.median(e)) for e in edges)


def quadrilateral(hull: np.ndarray) -> np.ndarray | None:
    """Four corners that describe a convex outline closely, or None.

    The outline's own four corners when it has them (a sheet in perspective); else the
    smallest rectangle around it, as for paper running out of the frame, whose corners
    may lie outside it.
    """
    hull_area = cv2.contourArea(hull)
    perimeter = cv2.arcLength(hull, True)
    for epsilon in (0.01, 0.02, 0.03, 0.05):
        approx = cv2.approxPolyDP(hull, epsilon * perimeter, True)
        if len(approx) == 4 and cv2.contourArea(approx) >= 0.9 * hull_area:
            return approx.reshape(4, 2).astype(np.float32)
        if len(approx) <= 4:
            break
    rectangle = cv2.minAreaRect(hull)
    if hull_area < MIN_FILL * rectangle[1][0] * rectangle[1][1]:
        return None
    return cv2.boxPoints(rectangle).astype(np.float32)


def upright_corners(points: np.ndarray) -> np.ndarray:
    """Four corners as top-left, top-right, bottom-right, bottom-left of the sheet turned
    upright by the smallest rotation (so at most 45 degrees either way)."""
    points = np.asarray(points, np.float32)
    centre = points.mean(axis=0)
    clockwise = points[np.argsort(np.arctan2(points[:, 1] - centre[1],
                                             points[:, 0] - centre[0]))]
    # The top edge runs left to right: of the four edges taken clockwise, the one whose
    # direction is nearest to pointing right.
    edges = np.roll(clockwise, -1, axis=0) - clockwise
    top = int(np.argmin(np.abs(np.arctan2(edges[:, 1], edges[:, 0]))))
    return np.roll(clockwise, -top, axis=0)


def flatten_sheet(grey: np.ndarray, sheet: Sheet) -> tuple[np.ndarray, np.ndarray]:
    """Warp the paper to an upright rectangle, what is not paper painted over as paper.

    Returns the flat sheet and the 3x3 homography from image to sheet coordinates. The
    rectangle's sides are the longer of each pair of opposite edges, so no detail is lost.
    """
    top_left, top_right, bottom_right, bottom_left = sheet.corners
    width = max(np.linalg.norm(top_right - top_left), np.linalg.norm(bottom_right - bottom_left))
    height = max(np.linalg.norm(bottom_left - top_left), np.linalg.norm(bottom_right - top_right))
    width, height = max(round(float(width)), 1), max(round(float(height)), 1)
    target = np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]],
                      np.float32)
    homography = cv2.getPerspectiveTransform(sheet.corners.astype(np.float32), target)
    flat = cv2.warpPerspective(grey, homography, (width, height), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
    # Whatever the corners hold beyond the paper seen (the desk by a curled edge, the
    # world past the frame's edge): blank paper, of the paper's own brightness.
    outline = cv2.perspectiveTransform(sheet.outline.reshape(1, -1, 2), homography)
    inside = cv2.fillConvexPoly(np.zeros((height, width), np.uint8),
                                np.rint(outline.reshape(-1, 2)).astype(np.int32), 1)
    if inside.any() and not inside.all():
        flat[inside == 0] = np.uint8(np.median(flat[inside > 0]))
    return flat, homography

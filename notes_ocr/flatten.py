"""Phone photos: find the sheet of paper in the frame and flatten its perspective.

A scan is all paper; a photo shows the sheet as a bright quadrilateral on a darker desk,
seen at an angle. Flattening maps that quadrilateral back to a rectangle, so that lines of
writing are straight and digits keep their shapes.
"""

from __future__ import annotations

import cv2
import numpy as np

# The sheet must cover at least this share of the frame to be taken for the page: smaller
# bright shapes are sticky notes, screens or the desk itself.
MIN_SHEET_AREA = 0.2
# How far inside its outline the sheet is cut out (a share of the way to its centre).
SHEET_INSET = 0.015
# Working size for the search; the corners are scaled back to the full image.
SEARCH_SIDE = 800


def find_sheet(grey: np.ndarray) -> np.ndarray | None:
    """The corners of the sheet of paper in a photo, or None when there is no clear sheet.

    Returns a (4, 2) float32 array: top-left, top-right, bottom-right, bottom-left, in the
    image's pixels. None for a scan (the paper fills the frame), or when nothing in the frame
    is a plausible four-cornered sheet, clearly brighter than what surrounds it.

    Two outlines are tried: the sheet's edge as found by Canny (robust to light falling off
    across the paper), then the bright region by Otsu's threshold (robust to a textured
    desk); the larger plausible sheet wins.
    """
    height, width = grey.shape
    scale = min(1.0, SEARCH_SIDE / max(height, width))
    small = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (5, 5), 0)
    close = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (15, 15))
    edges = cv2.dilate(cv2.Canny(small, 30, 100), np.ones((3, 3), np.uint8))
    _, bright = cv2.threshold(small, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # Close the writing and rulings into the paper, so the sheet is one solid shape.
    bright = cv2.morphologyEx(bright, cv2.MORPH_CLOSE, close)
    best, best_area = None, 0.0
    for outline in (edges, bright):
        contours, _ = cv2.findContours(outline, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        if not contours:
            continue
        corners = quadrilateral(max(contours, key=cv2.contourArea))
        if corners is not None and plausible_sheet(small, corners):
            area = cv2.contourArea(corners)
            if area > best_area:
                best, best_area = corners, area
    if best is None:
        return None
    # Step just inside the outline: a sliver of dark desk along the sheet's edge would read
    # as a ruling or a row of 1s.
    centre = best.mean(axis=0)
    inset = best + (centre - best) * SHEET_INSET
    return order_corners(inset) / scale


def quadrilateral(contour: np.ndarray) -> np.ndarray | None:
    """Four corners that describe a contour's convex hull closely, or None."""
    hull = cv2.convexHull(contour)
    perimeter = cv2.arcLength(hull, True)
    for epsilon in (0.01, 0.02, 0.03, 0.05):
        approx = cv2.approxPolyDP(hull, epsilon * perimeter, True)
        if len(approx) == 4:
            corners = approx.reshape(4, 2).astype(np.float32)
            # A sheet seen at an angle still fills nearly all of its hull.
            if cv2.contourArea(corners) >= 0.9 * cv2.contourArea(hull):
                return corners
            return None
    return None


def plausible_sheet(small: np.ndarray, corners: np.ndarray) -> bool:
    """Large, clear of the frame's edges, and clearly brighter than its surroundings."""
    small_h, small_w = small.shape
    if cv2.contourArea(corners) < MIN_SHEET_AREA * small_h * small_w:
        return False
    # A photo of a sheet shows the desk all round it. Paper that reaches the frame's edges is
    # a scan or a close-up: nothing to flatten, and a shadow must not be taken for a desk.
    edge = 0.01 * max(small_h, small_w)
    xs, ys = corners[:, 0], corners[:, 1]
    if xs.min() <= edge or ys.min() <= edge or xs.max() >= small_w - edge:
        return False
    if ys.max() >= small_h - edge:
        return False
    inside = cv2.fillConvexPoly(np.zeros_like(small), corners.astype(np.int32), 1).astype(bool)
    return bool(small[~inside].mean() < 0.8 * small[inside].mean())


def order_corners(points: np.ndarray) -> np.ndarray:
    """Four points as top-left, top-right, bottom-right, bottom-left."""
    points = np.asarray(points, np.float32)
    sums = points.sum(axis=1)
    diffs = points[:, 1] - points[:, 0]
    return np.array(
        [points[np.argmin(sums)], points[np.argmin(diffs)], points[np.argmax(sums)],
         points[np.argmax(diffs)]],
        np.float32,
    )


def flatten_sheet(grey: np.ndarray, corners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Warp the sheet inside ``corners`` to an upright rectangle.

    Returns the flat sheet and the 3x3 homography from image to sheet coordinates. The
    rectangle's sides are the longer of each pair of opposite edges, so no detail is lost.
    """
    top_left, top_right, bottom_right, bottom_left = corners
    width = max(np.linalg.norm(top_right - top_left), np.linalg.norm(bottom_right - bottom_left))
    height = max(np.linalg.norm(bottom_left - top_left), np.linalg.norm(bottom_right - top_right))
    width, height = max(round(float(width)), 1), max(round(float(height)), 1)
    target = np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]],
                      np.float32)
    homography = cv2.getPerspectiveTransform(corners.astype(np.float32), target)
    flat = cv2.warpPerspective(grey, homography, (width, height), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
    return flat, homography

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
# Working size for the search; the corners are scaled back to the full image.
SEARCH_SIDE = 800


def find_sheet(grey: np.ndarray) -> np.ndarray | None:
    """The corners of the sheet of paper in a photo, or None when there is no clear sheet.

    Returns a (4, 2) float32 array: top-left, top-right, bottom-right, bottom-left, in the
    image's pixels. None for a scan (the paper fills the frame and touches every edge), or
    when the brightest region is not a plausible four-cornered sheet.
    """
    height, width = grey.shape
    scale = min(1.0, SEARCH_SIDE / max(height, width))
    small = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (5, 5), 0)
    _, bright = cv2.threshold(small, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # Close the writing and rulings into the paper, so the sheet is one solid shape.
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (15, 15))
    bright = cv2.morphologyEx(bright, cv2.MORPH_CLOSE, kernel)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(bright, connectivity=4)
    if count <= 1:
        return None
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    x, y, w, h, area = stats[largest]
    small_h, small_w = small.shape
    if area < MIN_SHEET_AREA * small_h * small_w:
        return None
    # A photo of a sheet shows the desk all round it. Paper that reaches the frame's edges is
    # a scan or a close-up: nothing to find, and a shadow must not be taken for a desk.
    edge = 0.01 * max(small_h, small_w)
    if x <= edge or y <= edge or x + w >= small_w - edge or y + h >= small_h - edge:
        return None
    contours, _ = cv2.findContours(
        (labels == largest).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
    )
    hull = cv2.convexHull(max(contours, key=cv2.contourArea))
    perimeter = cv2.arcLength(hull, True)
    corners = None
    for epsilon in (0.01, 0.02, 0.03, 0.05):
        approx = cv2.approxPolyDP(hull, epsilon * perimeter, True)
        if len(approx) == 4:
            corners = approx.reshape(4, 2).astype(np.float32)
            break
    if corners is None:
        return None
    # A sheet seen at an angle still fills most of its hull's bounding quadrilateral.
    if cv2.contourArea(corners) < 0.85 * cv2.contourArea(hull):
        return None
    # The desk must be clearly darker than the paper, not just a little shadowed.
    sheet = labels == largest
    if small[~sheet].mean() > 0.8 * small[sheet].mean():
        return None
    return order_corners(corners) / scale


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

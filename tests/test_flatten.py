"""Phone photos: the sheet is found on the desk and flattened; scans are left alone."""

import json
from pathlib import Path

import cv2
import numpy as np

from benchmarks.metrics import Score
from notes_ocr import scan
from notes_ocr.flatten import find_sheet
from notes_ocr.sources import read_pages

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def photograph(page: np.ndarray, corners: np.ndarray, size=(1500, 2000)) -> np.ndarray:
    """The page seen at an angle on a dark wooden desk, as a phone would take it."""
    rng = np.random.default_rng(0)
    height, width = page.shape[:2]
    source = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    matrix = cv2.getPerspectiveTransform(source, corners.astype(np.float32))
    desk = np.zeros((size[1], size[0], 3), np.float32)
    desk[:] = (40, 70, 110)
    desk += cv2.GaussianBlur(rng.normal(0, 12, desk.shape).astype(np.float32), (0, 0), 3)
    sheet = cv2.warpPerspective(page.astype(np.float32), matrix, size)
    inside = cv2.warpPerspective(np.ones((height, width), np.float32), matrix, size)[..., None]
    photo = sheet * inside + desk * (1 - inside)
    return np.clip(photo, 0, 255).astype(np.uint8)


CORNERS = np.array([[180, 150], [1330, 230], [1400, 1850], [90, 1760]], np.float32)


def test_find_sheet_on_a_photo_and_not_on_scans():
    page = cv2.imread(str(EXAMPLES / "ruled_blue.jpg"))
    photo = cv2.cvtColor(photograph(page, CORNERS), cv2.COLOR_BGR2GRAY)
    found = find_sheet(photo)
    assert found is not None
    assert np.abs(found - CORNERS).max() < 0.015 * max(photo.shape)
    for name in ("ruled_blue.jpg", "ruled_black_shadow.jpg", "plain_black.png"):
        assert find_sheet(read_pages(EXAMPLES / name)[0].image) is None


def test_photo_reads_like_the_scan():
    truth = json.loads((EXAMPLES / "truth.json").read_text())["ruled_blue.jpg"]
    page = cv2.imread(str(EXAMPLES / "ruled_blue.jpg"))
    (result,) = scan(photograph(page, CORNERS))
    score = Score()
    score.add([line.text for line in result.lines], truth)
    assert len(result.lines) == len(truth)
    assert score.cer <= 0.05
    # Boxes come back in the photo's pixels: every digit lies on the sheet.
    sheet = cv2.fillConvexPoly(np.zeros((2000, 1500), np.uint8), CORNERS.astype(np.int32), 1)
    for line in result.lines:
        for digit in line.digits:
            x, y, w, h = digit.box
            assert sheet[y + h // 2, x + w // 2]

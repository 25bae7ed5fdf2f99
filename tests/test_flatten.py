"""Phone photos: the paper is found on the desk and flattened; scans are left alone."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import pen_digit

from notes_ocr import scan
from notes_ocr.flatten import find_sheet, upright_corners
from notes_ocr.sources import read_pages
from notes_ocr.testing.metrics import Score

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
    assert np.abs(found.corners - CORNERS).max() < 0.015 * max(photo.shape)
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
        for digit in line.chars:
            x, y, w, h = digit.box
            assert sheet[y + h // 2, x + w // 2]


# --- notes of any size on any desk ---------------------------------------------------------

NOTE_LINES = ["4096", "21 57", "830"]


def note(mnist, paper_bgr: tuple[int, int, int], size: tuple[int, int] = (600, 450)) -> np.ndarray:
    """A note: NOTE_LINES in blue pen, MNIST test digits 70 px tall, on paper of a colour."""
    width, height = size
    image = np.zeros((height, width, 3), np.uint8)
    image[:] = paper_bgr
    used: dict[int, int] = {}
    for row, text in enumerate(NOTE_LINES):
        x, top = 60, 50 + 130 * row
        for char in text:
            if char == " ":
                x += 70
                continue
            digit = int(char)
            index = int(np.flatnonzero(mnist.y_test == digit)[used.get(digit, 0)])
            used[digit] = used.get(digit, 0) + 1
            ink = pen_digit(mnist.x_test[index], 70)
            h, w = ink.shape
            image[top : top + h, x : x + w][ink] = (120, 40, 20)
            x += w + 18
    return image


def desk(kind: str, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A desk seen by a phone: black leather (grain with highlights, lit on one side), a
    wooden top (grain in stripes), or a dark mouse pad."""
    width, height = size
    ys, xs = np.mgrid[:height, :width].astype(np.float32)
    if kind == "leather":
        base = 45 + 60 * np.exp(-((xs - 0.2 * width) ** 2 + (ys - 0.2 * height) ** 2)
                                / (0.5 * width) ** 2)
        grain = rng.normal(0, 1, (height, width)).astype(np.float32)
        highlights = np.where(grain > 1.6, 90.0, 0.0).astype(np.float32)
        grey = base + 12 * grain + cv2.GaussianBlur(highlights, (3, 3), 0)
        bgr = np.stack([grey, grey, grey], axis=-1)
    elif kind == "wood":
        stripes = np.sin(xs / 9 + 3 * np.sin(ys / 40)) + 0.5 * np.sin(xs / 3.1)
        grey = 95 + 20 * stripes + rng.normal(0, 6, (height, width))
        bgr = np.stack([0.55 * grey, 0.8 * grey, grey], axis=-1)
    else:
        grey = 30 + rng.normal(0, 10, (height, width))
        bgr = np.stack([grey, grey, grey], axis=-1)
    return np.clip(bgr, 0, 255).astype(np.float32)


def on_desk(paper: np.ndarray, kind: str, corners: np.ndarray, size=(1200, 900),
            seed: int = 0) -> np.ndarray:
    """``paper`` photographed lying at ``corners`` (its top-left, top-right, bottom-right,
    bottom-left; any may be out of the frame) on a desk of ``kind``."""
    rng = np.random.default_rng(seed)
    height, width = paper.shape[:2]
    source = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    matrix = cv2.getPerspectiveTransform(source, corners.astype(np.float32))
    sheet = cv2.warpPerspective(paper.astype(np.float32), matrix, size)
    inside = cv2.warpPerspective(np.ones((height, width), np.float32), matrix, size)[..., None]
    photo = sheet * inside + desk(kind, size, rng) * (1 - inside)
    photo = cv2.GaussianBlur(photo, (3, 3), 0) + rng.normal(0, 3, photo.shape)
    return np.clip(photo, 0, 255).astype(np.uint8)


def placed(degrees: float, centre: tuple[float, float], scale: float,
           size: tuple[int, int] = (600, 450)) -> np.ndarray:
    """Corners of a note of ``size`` turned ``degrees`` about ``centre`` and scaled."""
    width, height = size
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float64)
    corners = (corners - (width / 2, height / 2)) * scale
    turn = np.deg2rad(degrees)
    rotation = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    return (corners @ rotation.T + centre).astype(np.float32)


WHITE, YELLOW, CARD = (238, 240, 242), (120, 235, 250), (225, 232, 236)
NOTES = {
    # paper, desk, turn (degrees), centre, scale: a sticky note far off, an index card,
    # half a sheet turned 45 degrees, a note running out of the frame at the right.
    "yellow sticky note on leather": (YELLOW, "leather", 12.0, (600, 430), 0.8),
    "index card on wood": (CARD, "wood", -25.0, (620, 460), 1.2),
    "white note on a mouse pad, 45 degrees": (WHITE, "pad", 44.0, (600, 450), 1.15),
    "white note on leather, out of the frame": (WHITE, "leather", -8.0, (890, 420), 1.35),
    "sticky note far off on wood": (YELLOW, "wood", 30.0, (500, 400), 0.55),
}


@pytest.mark.parametrize("case", list(NOTES))
def test_a_note_is_found_on_any_desk_and_read(mnist, case):
    paper, kind, degrees, centre, scale = NOTES[case]
    corners = placed(degrees, centre, scale)
    photo = on_desk(note(mnist, paper), kind, corners)
    sheet = find_sheet(cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY))
    assert sheet is not None
    in_frame = ((corners >= 0) & (corners < (1200, 900))).all(axis=1)
    # The corners in the frame are found; those out of it lie beyond the frame's edge.
    error = np.linalg.norm(sheet.corners - upright_corners(corners), axis=1)
    assert error[in_frame].max() < 0.04 * 600 * scale, sheet.corners
    (page,) = scan(photo)
    score = Score()
    score.add([line.text for line in page.lines], NOTE_LINES)
    # Read as on a flat scan: every line, at most one digit wrong (a broken stroke of an
    # MNIST digit may read as a 1 of its own, here as anywhere).
    assert len(page.lines) == len(NOTE_LINES) and score.char_errors <= 1, page.lines
    # Nothing outside the paper is ever ink: every digit lies on the note.
    on_note = cv2.fillConvexPoly(np.zeros((900, 1200), np.uint8),
                                 np.rint(corners).astype(np.int32), 1)
    for line in page.lines:
        for digit in line.chars:
            x, y, w, h = digit.box
            assert on_note[y + h // 2, x + w // 2], (case, digit)


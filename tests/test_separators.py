"""Separators inside numbers (/ - . , :): told by their size and place in the line."""

from dataclasses import replace

import cv2
import numpy as np
import pytest
from conftest import pen_digit

from notes_ocr.decode import is_date
from notes_ocr.layout import group_lines, place_separators
from notes_ocr.pipeline import Scanner, prepare
from notes_ocr.segment import Blob
from notes_ocr.separators import (
    Band,
    SeparatorCandidate,
    band_of,
    blob_extents,
    line_separators,
    separator_of,
    signed_lean,
    with_date_slashes,
)
from notes_ocr.sources import PageImage
from notes_ocr.testing.metrics import SeparatorScore
from notes_ocr.testing.synth import PageSpec, make_page

HEIGHT = 50
BASELINE = 120  # the digits' bottom row on the test line
PEN = 5


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner()


def write_line(mnist, text: str, marks_at: dict[int, str] | None = None,
               slash_width: int = 28, separator_shift: int = 0) -> np.ndarray:
    """A white page with ``text`` written on one baseline: MNIST test digits drawn as pen
    strokes, separators drawn with a pen of the same width. ``marks_at``: marks drawn at
    given columns besides, out of place or not quite in it (``"dot"`` on the baseline,
    ``"dot-high"``, ``"dash-high"``, ``"dash-raised"``). ``slash_width``: how far a slash's
    top stands right of its foot, px (28: some 28 degrees from upright).
    ``separator_shift``: px a separator is drawn right of its place (12 px after the digit
    before it; negative: tucked under that digit's overhang)."""
    page = np.full((240, 1100), 255, np.uint8)
    seen: dict[str, int] = {}
    x = 40
    for char in text:
        if char.isdigit():
            examples = np.flatnonzero(mnist.y_test == int(char))
            ink = pen_digit(mnist.x_test[examples[seen.get(char, 0)]], HEIGHT)
            seen[char] = seen.get(char, 0) + 1
            h, w = ink.shape
            page[BASELINE - h : BASELINE, x : x + w][ink] = 0
            x += w + 12
        elif char == " ":
            x += HEIGHT
        else:
            x = draw_separator(page, char, x + separator_shift, slash_width) + 10
    for at, mark in (marks_at or {}).items():
        middle = BASELINE - HEIGHT // 2
        if mark == "dot":
            cv2.circle(page, (at, BASELINE - 4), 4, 0, -1)
        elif mark == "dot-high":
            cv2.circle(page, (at, BASELINE - HEIGHT + 4), 4, 0, -1)
        elif mark == "dash-high":
            cv2.line(page, (at, BASELINE - HEIGHT + 2), (at + 20, BASELINE - HEIGHT + 2), 0, PEN)
        elif mark == "dash-raised":  # a little above mid-height: a dash, less surely
            cv2.line(page, (at, middle - 12), (at + 20, middle - 12), 0, PEN)
        else:
            raise ValueError(mark)
    return page


def draw_separator(page: np.ndarray, char: str, x: int, slash_width: int = 28) -> int:
    """Draw one separator at column ``x``; returns its right edge."""
    middle = BASELINE - HEIGHT // 2
    if char == ".":
        cv2.circle(page, (x + 4, BASELINE - 4), 4, 0, -1)
        return x + 8
    if char == ",":
        cv2.circle(page, (x + 4, BASELINE - 4), 4, 0, -1)
        cv2.line(page, (x + 7, BASELINE - 3), (x + 2, BASELINE + 12), 0, 3)
        return x + 8
    if char == "-":
        cv2.line(page, (x, middle), (x + 20, middle), 0, PEN)
        return x + 20
    if char == ":":
        cv2.circle(page, (x + 4, BASELINE - 6), 4, 0, -1)
        cv2.circle(page, (x + 4, BASELINE - HEIGHT + 14), 4, 0, -1)
        return x + 8
    if char == "/":
        cv2.line(page, (x, BASELINE + 2), (x + slash_width, BASELINE - HEIGHT - 2), 0, PEN)
        return x + slash_width
    raise ValueError(char)


def read(scanner: Scanner, page: np.ndarray) -> list[str]:
    return [line.text for line in scanner.scan_array(page).lines]


@pytest.mark.parametrize("text", ["12/05/2019", "10:30", "1.250,00", "555-1234", "67.555"])
def test_separators_are_read_where_they_were_written(mnist, scanner, text):
    assert read(scanner, write_line(mnist, text)) == [text]


def test_each_separator_is_a_character_of_the_line(mnist, scanner):
    line = scanner.scan_array(write_line(mnist, "10:30")).lines[0]
    assert [char.char for char in line.chars] == list("10:30")
    colon = line.chars[2]
    assert 0.5 < colon.confidence <= 1.0
    _, y, _, h = colon.box
    assert y + h > BASELINE - 12 and y < BASELINE - HEIGHT + 20  # both dots inside its box


def test_digits_only_reads_the_digits_of_today(mnist):
    page = write_line(mnist, "12/05/2019")
    assert read(Scanner(digits_only=True), page) == ["12 05 2019"]


def test_a_mark_out_of_a_separators_place_is_no_separator(mnist, scanner):
    # A dot at the digits' top and a dash along it are not a decimal point and a dash;
    # a dot on the baseline far from any number is nothing at all.
    for mark in ("dot-high", "dash-high"):
        texts = read(scanner, write_line(mnist, "12 34", {120: mark}))
        assert not any(c in "/-.,:" for c in "".join(texts)), (mark, texts)
    texts = read(scanner, write_line(mnist, "1234", {900: "dot"}))
    assert texts == ["1234"]


def test_an_unsure_separator_is_written_as_a_question_mark(mnist, scanner):
    sure = scanner.scan_array(write_line(mnist, "555-1234")).lines[0].chars[3]
    page = write_line(mnist, "555 1234", {216: "dash-raised"})
    dash = scanner.scan_array(page).lines[0].chars[3]
    assert dash.char == "-" and dash.confidence < sure.confidence
    line = Scanner(min_confidence=np.nextafter(dash.confidence, 1)).scan_array(page).lines[0]
    assert line.chars[3].char == "?" and len(line.text) == len("555-1234")


def test_a_separator_joins_the_numbers_either_side_but_not_across_a_space():
    # Digits 20 px wide, 40 tall, 10 px apart; a dot after the second.
    digits = np.array([[0, 0, 20, 40], [30, 0, 20, 40], [80, 0, 20, 40], [110, 0, 20, 40],
                       [200, 0, 20, 40], [230, 0, 20, 40]])
    lines = group_lines(digits)
    assert lines == [[[0, 1], [2, 3], [4, 5]]]
    dot = np.array([[56, 34, 6, 6]])
    assert place_separators(digits, lines, dot, np.array([2])) == [[[0, 1, 6, 2, 3], [4, 5]]]
    # The same dot right after the fourth digit, the next number far away: it ends a number.
    trailing = np.array([[134, 34, 6, 6]])
    assert place_separators(digits, lines, trailing, np.array([4])) == [[[0, 1], [2, 3, 6],
                                                                          [4, 5]]]


@pytest.mark.parametrize("seed", [3, 4])
def test_pages_with_separators_are_read_with_them(mnist, scanner, seed):
    spec = replace(PageSpec(paper="ruled", seed=seed), separators=True)
    page = make_page(spec, mnist.x_test, mnist.y_test)
    lines = [line.text for line in scanner.scan_array(page.image).lines]
    score = SeparatorScore()
    score.add(lines, page.lines)
    assert score.true >= 5, page.lines
    assert score.recall >= 0.6 and score.precision >= 0.9, (page.lines, lines)


def test_slashes_that_lean_like_ones_are_read_in_a_date(mnist, scanner):
    # Strokes leaning some 15 degrees, about as far as many hands' 1s: alone, each could be
    # a 1; placed as a pair in a date, they are its slashes. The same strokes in a number
    # that is no date (no day 51) are 1s.
    assert read(scanner, write_line(mnist, "12/05/2019", slash_width=14)) == ["12/05/2019"]
    assert read(scanner, write_line(mnist, "51/4/88", slash_width=14)) == ["5114188"]


@pytest.mark.parametrize(("text", "check_values", "date"), [
    ("12/05/2019", True, True), ("5/6/21", True, True), ("2019/05/12", True, True),
    ("05/31/2019", True, True), ("13/13/2020", True, False), ("51/4/88", True, False),
    ("2500/6/0", True, False), ("21/1/997", True, False), ("12/05", True, False),
    ("51/4/88", False, True), ("21/1/997", False, False), ("1/2/3/4", False, False),
])
def test_is_date(text, check_values, date):
    assert is_date(text, check_values) is date


def test_a_dot_tucked_under_a_digit_stays_a_dot(mnist, scanner):
    # The dot stands under the 7's bar, inside the 7's box, level with its foot: beside the
    # 7, not a piece of it. Segmentation once joined it to the 7 (read as 1750).
    assert read(scanner, write_line(mnist, "17.50", separator_shift=-14)) == ["17.50"]


def test_a_slash_without_a_partner_is_no_candidate(mnist):
    # Slashes come in pairs, in dates: a stroke leaning like a slash with none near it is a
    # 1 that leans, and a slash candidate would only take the 1's confidence away.
    def slashes(text: str) -> int:
        proposal = prepare(PageImage("line", 1, write_line(mnist, text))).proposal
        return int(np.count_nonzero(proposal.separator_char == "/"))

    assert slashes("12/05/2019") >= 2
    assert slashes("12/05 2019") == 0


@pytest.mark.parametrize(("height", "dash"), [(6, True), (10, True), (18, False)])
def test_a_dash_is_one_strokes_width_thick(height, dash):
    # A bar 40 px long at mid-height between digits 50 px tall (pen 5 px): a dash when
    # thin, not when it is as thick as two small zeros side by side.
    band = Band(top=100.0, bottom=150.0, before=True, after=True)
    mask = np.ones((height, 40), bool)
    blob = Blob(200, 125 - height // 2, 40, height, mask)
    char, confidence = separator_of(blob, signed_lean(mask), band, 0.0, PEN)
    assert (char == "-" and confidence > 0.5) is dash, (char, confidence)


@pytest.mark.parametrize(("own", "dated"), [(0.9, False), (0.2, True)])
def test_a_slash_sure_by_its_own_lean_is_not_only_a_dates(own, dated):
    # Two slash-shaped strokes a digit apart (line height 50), leaning 10 degrees beyond
    # the writer: the pair makes each sure. One already likely by its own lean needs no
    # date around it; one that is a slash only as the pair's does.
    line = [Blob(x, 100, 20, 50, np.ones((50, 20), bool), source=x) for x in (0, 40, 80, 120)]
    found = [SeparatorCandidate(1, 2, "/", own, line[1])]
    strokes = [(1, 1.0, 10.0), (3, 1.0, 10.0)]
    out = {candidate.first: candidate for candidate in with_date_slashes(line, 50.0, found,
                                                                          strokes)}
    assert out[1].confidence == 1.0 and out[1].dated is dated
    assert out[3].confidence == 1.0 and out[3].dated


def test_a_digit_cut_into_short_pieces_stands_beside_a_separator():
    # A digit segmentation cut into two pieces, each half its height, is one tall
    # neighbour: the separator after it has a digit before it.
    def piece(x: int, y: int, h: int, source: int) -> Blob:
        return Blob(x, y, 10, h, np.ones((h, 10), bool), source=source)

    line = [piece(0, 100, 25, 0), piece(10, 125, 25, 0), piece(30, 140, 8, 1),
            piece(50, 100, 50, 2)]
    band = band_of(line, 2, 3, 50.0, blob_extents(line))
    assert band is not None and band.before and band.after
    assert (band.top, band.bottom) == (100.0, 150.0)


def test_a_colon_touching_the_digit_after_it_is_a_colon_candidate():
    # Segmentation cut the colon off the 3 it touches (one source): two stacked dots are
    # no piece of a digit, so it stays a candidate, where a lone dot cut off would not.
    digit = np.ones((50, 20), bool)
    colon = np.zeros((30, 8), bool)
    colon[:8], colon[-8:] = True, True
    line = [Blob(0, 100, 20, 50, digit, source=0), Blob(30, 100, 20, 50, digit, source=1),
            Blob(60, 118, 8, 30, colon, source=2), Blob(68, 100, 20, 50, digit, source=2),
            Blob(98, 100, 20, 50, digit, source=3)]
    found = [(c.first, c.char) for c in line_separators(line, 50.0, 8.0) if c.confidence > 0.5]
    assert (2, ":") in found

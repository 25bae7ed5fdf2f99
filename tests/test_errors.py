"""The page benchmark's error analysis: digits of the truth matched to digits read."""

from notes_ocr.testing.breakdown import Outcome, analyse, match_page

TRUTH = ["12 3", "4 56", "9"]
BOXES = [
    [(0, 0, 10, 20), (12, 0, 10, 20), (30, 0, 10, 20)],
    [(0, 30, 10, 20), (20, 30, 10, 20), (32, 30, 10, 20)],
    [(0, 60, 10, 20)],
]
READ = [
    ("1", (0, 0, 10, 20)),  # right
    ("7", (12, 0, 10, 20)),  # a 2 misread; the 3 is not read at all
    ("1", (0, 30, 5, 20)), ("1", (5, 30, 5, 20)),  # a broken 4 read as two 1s
    ("5", (20, 30, 22, 20)),  # 5 and 6 read as one 5
    ("0", (0, 60, 10, 20)),  # the 9 misread alone on its line
    ("1", (100, 100, 5, 5)),  # a speck read where nothing is written
]


def test_each_digit_of_the_truth_gets_what_was_read_at_its_place():
    outcomes, elsewhere = match_page(TRUTH, BOXES, READ)
    assert outcomes == [
        Outcome(0, 1, "right", False, "1"),
        Outcome(0, 2, "misread", False, "7"),
        Outcome(0, 3, "lost", False, ""),
        Outcome(1, 4, "split", False, "11"),
        Outcome(1, 5, "right", True, "5"),
        Outcome(1, 6, "lost", True, ""),
        Outcome(2, 9, "misread", False, "0"),
    ]
    assert elsewhere == 1


def test_wrong_lines_are_put_down_to_the_kinds_of_error_in_them():
    read_lines = ["17", "11 5", "0"]
    report = analyse({"page.png": TRUTH}, {"page.png": BOXES}, {"page.png": (read_lines, READ)})
    assert report.lines == 3 and report.wrong_lines == 3
    assert report.only == {"several": 2, "misread": 1}
    assert report.confusions == {(2, "7"): 1, (9, "0"): 1}
    assert report.lost == {3: 1, 6: 1}
    assert report.outcomes["lost, merged"] == 1 and report.outcomes["right, merged"] == 1

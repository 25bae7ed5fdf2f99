import numpy as np

from notes_ocr.layout import group_lines


def row_of_boxes(y: int, pattern: str, height: int = 40, width: int = 28) -> list[list[int]]:
    """Boxes for a line like '12 345': digits 8 px apart, groups a digit height apart."""
    boxes, x = [], 50
    for char in pattern:
        if char == " ":
            x += height
            continue
        boxes.append([x, y + (x % 5), width, height])  # a little baseline wobble
        x += width + 8
    return boxes


def test_lines_top_to_bottom_and_groups_left_to_right():
    lines = ["0142 555 0199", "12 03 2024", "7"]
    boxes = []
    for number, text in enumerate(lines):
        boxes += row_of_boxes(100 + 80 * number, text)
    order = np.random.default_rng(0).permutation(len(boxes))
    shuffled = np.array(boxes)[order]

    layout = group_lines(shuffled)

    digits = [c for c in "".join(lines) if c != " "]
    texts = [
        " ".join("".join(digits[order[i]] for i in group) for group in line) for line in layout
    ]
    assert texts == lines


def test_no_boxes_no_lines():
    assert group_lines(np.zeros((0, 4))) == []


def layout_texts(lines: list[str], boxes: list[list[int]]) -> list[str]:
    digits = [c for c in "".join(lines) if c != " "]
    return [" ".join("".join(digits[i] for i in group) for group in line)
            for line in group_lines(np.array(boxes))]


def spaced_row(y: int, digits: str, gaps: list[float], x: int = 50, height: int = 40,
               width: int = 26) -> list[list[int]]:
    """Boxes for ``digits`` written with the given gaps (in digit heights) between them."""
    assert len(gaps) == len(digits) - 1
    boxes = []
    for gap in [0.0, *gaps]:
        x += round(gap * height)
        boxes.append([x, y, width, height])
        x += width
    return boxes


def test_a_number_written_wide_stays_one_group():
    # A writer who leaves most of a digit's width between digits: one number, not seven.
    gaps = [0.78, 0.67, 0.85, 0.70, 0.80, 0.50]
    assert layout_texts(["1247673"], spaced_row(100, "1247673", gaps)) == ["1247673"]
    # The same writer's clearly wider gap (twice the usual and more) still parts numbers.
    gaps = [0.7, 0.6, 0.75, 1.9, 0.65, 0.7, 0.6]
    assert layout_texts(["1967 4899"], spaced_row(100, "19674899", gaps)) == ["1967 4899"]


def test_a_tight_writer_keeps_the_usual_group_gap():
    # Digits nearly touching; numbers a digit height apart; a line of short numbers.
    gaps = [0.05, 0.8, 0.1, 0.9, 0.05, 0.1, 0.0]
    assert layout_texts(["14 03 2024"], spaced_row(100, "14032024", gaps)) == ["14 03 2024"]


def test_two_columns_are_read_column_by_column():
    boxes, lines = [], []
    left = ["0208", "1380", "0736"]
    right = ["4006", "020", "1382"]
    for row, (a, b) in enumerate(zip(left, right, strict=True)):
        y = 100 + 90 * row
        boxes += spaced_row(y, a, [0.2] * (len(a) - 1))
        # The right column's rows sit a little lower: the two were not written as one.
        boxes += spaced_row(y + 15, b, [0.2] * (len(b) - 1), x=520)
        lines += [a, b]
    assert layout_texts(lines, boxes) == left + right


def test_a_line_never_runs_across_a_wide_gap():
    boxes = spaced_row(100, "123456", [0.2, 0.2, 3.5, 0.2, 0.2])
    assert layout_texts(["123456"], boxes) == ["123", "456"]


def test_the_end_of_a_drifting_line_stays_on_its_line():
    # A phone photo's line that climbs to the right: its first digit sits further below
    # the line's middle than rows allow, yet beside its neighbour.
    boxes = [[50 + 34 * i, 130 - 6 * i, 26, 40] for i in range(9)]
    assert layout_texts(["020878367"], boxes) == ["020878367"]
    # A mark half the digits' height below the line's end is no digit of it, and a digit
    # written on the next line is a line of its own.
    mark = [[45, 168, 20, 14]]
    below = [[50, 190, 26, 40]]
    assert layout_texts(["020878367", "1", "7"], boxes + mark + below) == [
        "020878367", "1", "7"]

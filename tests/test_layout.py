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

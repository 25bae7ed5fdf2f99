"""Digit boxes -> lines (column by column, top to bottom) -> groups (left to right).

Pure geometry on (x, y, w, h) boxes of a deskewed page; the result is indices, so the caller
keeps whatever it attached to each box.
"""

from __future__ import annotations

import numpy as np

# A digit joins a line when its vertical centre is within this many digit heights of the
# line's centre: rows of handwriting sit at least about 1.5 heights apart.
LINE_TOLERANCE = 0.6
# A gap wider than this many digit heights is no space within a line: what follows stands
# in another column (two lists side by side), or is another entry of a table row.
COLUMN_GAP = 2.5
# A gap wider than GROUP_RATIO times the writer's usual gap between digits, and wider than
# GROUP_GAP digit heights, starts a new group: some write a number's digits touching,
# others a digit's width apart, and a number's gaps vary by half either way; the space
# between two numbers is about twice the usual gap or more. The usual gap is the lower
# USUAL_QUANTILE of the line's gaps (of the page's when the line has fewer than
# MIN_LINE_GAPS): a line of short numbers has nearly as many gaps between them as in them.
GROUP_RATIO = 2.0
GROUP_GAP = 0.55
USUAL_QUANTILE = 1 / 3
MIN_LINE_GAPS = 4
# A digit left alone in its row by a drifting line is at least this share of the height of
# the line's digit beside it (see with_strays_joined).
STRAY_HEIGHT = 0.5
# The narrowest cell a digit takes on a line, in digit heights (a 1's ink is much narrower).
NARROW_CELL = 0.5


def group_lines(boxes: np.ndarray) -> list[list[list[int]]]:
    """Arrange digit boxes into lines of groups.

    Parameters
    ----------
    boxes : (N, 4) array of (x, y, w, h)

    Returns
    -------
    Lines in reading order: column by column from the left (a line never spans a gap of
    COLUMN_GAP digit heights), each column top to bottom; each line a list of groups from
    left to right; each group a list of indices into ``boxes`` from left to right.
    """
    return lay_out(boxes)[0]


def lay_out(boxes: np.ndarray) -> tuple[list[list[list[int]]], list[int]]:
    """``group_lines``' lines, and for each the row of writing it was cut from (numbered
    top to bottom): the lines of one row stand side by side, in columns."""
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    if len(boxes) == 0:
        return [], []
    lines, rows = [], []
    for number, row in enumerate(with_strays_joined(boxes, rows_of(boxes))):
        for segment in split_row(boxes, row):
            lines.append(segment)
            rows.append(number)
    order = reading_order(boxes, lines)
    lines, rows = [lines[i] for i in order], [rows[i] for i in order]
    line_gaps = [gaps(boxes, line) for line in lines]
    spacing = usual_gap(np.concatenate(line_gaps))
    groups = [split_groups(line, between, spacing)
              for line, between in zip(lines, line_gaps, strict=True)]
    return groups, rows


def rows_of(boxes: np.ndarray, digit_height: float = 0.0) -> list[list[int]]:
    """The boxes' rows of writing, top to bottom, each left to right.

    ``digit_height`` is the digits' height, px; when not given (0), the median box's.
    """
    heights = boxes[:, 3]
    if digit_height <= 0:
        digit_height = float(np.median(heights))
    centres_y = boxes[:, 1] + heights / 2
    rows: list[list[int]] = []
    row_centres: list[float] = []
    for i in np.argsort(centres_y, kind="stable"):
        if row_centres and abs(centres_y[i] - row_centres[-1]) <= LINE_TOLERANCE * digit_height:
            rows[-1].append(int(i))
            # Follow a line's slow drift without letting one tall digit drag it.
            row_centres[-1] = float(np.median(centres_y[rows[-1]]))
        else:
            rows.append([int(i)])
            row_centres.append(float(centres_y[i]))
    centres_x = boxes[:, 0] + boxes[:, 2] / 2
    return [sorted(row, key=lambda i: centres_x[i]) for row in rows]


def with_strays_joined(boxes: np.ndarray, rows: list[list[int]]) -> list[list[int]]:
    """``rows`` with each row of a single digit joined to the row beside it, where that row's
    digit nearest to it stands within COLUMN_GAP digit heights across and LINE_TOLERANCE up
    or down, and is no more than 1 / STRAY_HEIGHT times as tall. A line that drifts (a
    photo, a hand that climbs) leaves its end digit further from the line's middle than
    from its neighbour, and a digit alone in its row is no line of its own when it stands
    next to one; a short mark below a line's end (a cheque's edge) stays apart."""
    height = float(np.median(boxes[:, 3]))
    centres_y = boxes[:, 1] + boxes[:, 3] / 2
    rows = [list(row) for row in rows]
    for row in [row for row in rows if len(row) == 1]:
        (i,) = row
        best, nearest = None, np.inf
        for other in rows:
            if other is row or len(other) < 2:
                continue
            others = np.array(other)
            across = np.maximum(boxes[others, 0] - (boxes[i, 0] + boxes[i, 2]),
                                boxes[i, 0] - (boxes[others, 0] + boxes[others, 2]))
            j = int(np.argmin(across))
            if (across[j] <= COLUMN_GAP * height and across[j] < nearest
                    and abs(centres_y[others[j]] - centres_y[i]) <= LINE_TOLERANCE * height
                    and boxes[i, 3] >= STRAY_HEIGHT * boxes[others[j], 3]):
                best, nearest = other, float(across[j])
        if best is not None:
            best.append(i)
            row.clear()
    centres_x = boxes[:, 0] + boxes[:, 2] / 2
    return [sorted(row, key=lambda i: centres_x[i]) for row in rows if row]


def gaps(boxes: np.ndarray, line: list[int]) -> np.ndarray:
    """The gaps between neighbouring digits of a line (left to right), in its digit heights.

    A 1 is a narrow box in a digit-wide cell: gaps are measured between cells, not ink, or
    every 1 would look set apart.
    """
    line_height = float(np.median(boxes[line, 3]))
    centres = boxes[line, 0] + boxes[line, 2] / 2
    half_widths = np.maximum(boxes[line, 2] / 2, NARROW_CELL * line_height / 2)
    return ((centres[1:] - half_widths[1:]) - (centres[:-1] + half_widths[:-1])) / line_height


def split_row(boxes: np.ndarray, row: list[int]) -> list[list[int]]:
    """A row cut wherever a gap is wider than COLUMN_GAP."""
    segments = [[row[0]]]
    for index, gap in zip(row[1:], gaps(boxes, row), strict=True):
        if gap > COLUMN_GAP:
            segments.append([index])
        else:
            segments[-1].append(index)
    return segments


def reading_order(boxes: np.ndarray, lines: list[list[int]]) -> list[int]:
    """The order of ``lines`` column by column from the left, each column top to bottom.

    A column is a run of lines whose horizontal extents overlap, one to the next.
    """
    left = np.array([boxes[line, 0].min() for line in lines])
    right = np.array([(boxes[line, 0] + boxes[line, 2]).max() for line in lines])
    middle = np.array([np.median(boxes[line, 1] + boxes[line, 3] / 2) for line in lines])
    column = np.zeros(len(lines), int)
    current, reach = -1, -np.inf
    for i in np.argsort(left, kind="stable"):
        if left[i] > reach:
            current += 1
        column[i] = current
        reach = max(reach, right[i])
    return [int(i) for i in np.lexsort((left, middle, column))]


def usual_gap(line_gaps: np.ndarray) -> float:
    """The writer's usual gap between digits (digit heights), or 0 if too few to tell."""
    if len(line_gaps) < MIN_LINE_GAPS:
        return 0.0
    return float(np.quantile(line_gaps, USUAL_QUANTILE))


def group_gap(line_gaps: np.ndarray, page_gap: float) -> float:
    """The gap (digit heights) past which a line's digits stand in two groups (see
    GROUP_RATIO); ``page_gap`` is the page's usual gap, for lines with too few of their own."""
    usual = usual_gap(line_gaps) if len(line_gaps) >= MIN_LINE_GAPS else page_gap
    return max(GROUP_GAP, GROUP_RATIO * usual)


def split_groups(line: list[int], line_gaps: np.ndarray, page_gap: float) -> list[list[int]]:
    """Cut one line's digits (left to right) where its gaps (``gaps``) are wide (see
    ``group_gap``)."""
    threshold = group_gap(line_gaps, page_gap)
    groups = [[line[0]]]
    for index, gap in zip(line[1:], line_gaps, strict=True):
        if gap > threshold:
            groups.append([index])
        else:
            groups[-1].append(index)
    return groups


def place_separators(boxes: np.ndarray, lines: list[list[list[int]]],
                     separator_boxes: np.ndarray, after: np.ndarray) -> list[list[list[int]]]:
    """``lines`` (``group_lines`` of the digits' ``boxes``) with separators put in.

    Separator ``s`` (its box ``separator_boxes[s]``) was read right after digit
    ``after[s] - 1``: it goes into that digit's group, as index ``len(boxes) + s``. It
    joins the group that follows it when the digit after it is no further from it than
    digits of one group are from each other: ``12/05/2019`` is one group, whatever the
    gaps around its slashes, and ``12. 34`` two.
    """
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    separator_boxes = np.asarray(separator_boxes, dtype=float).reshape(-1, 4)
    lines = [[list(group) for group in line] for line in lines]
    digits = [[i for group in line for i in group] for line in lines]
    line_gaps = [gaps(boxes, line) for line in digits]
    spacing = usual_gap(np.concatenate([np.zeros(0), *line_gaps]))
    thresholds = [group_gap(between, spacing) for between in line_gaps]
    heights = [float(np.median(boxes[line, 3])) for line in digits]
    where = {i: (number, g) for number, line in enumerate(lines)  # each digit's group
             for g, group in enumerate(line) for i in group}
    for s in np.argsort(after, kind="stable")[::-1]:  # right to left: the digits stay put
        number, g = where[int(after[s]) - 1]
        line, separator = lines[number], len(boxes) + int(s)
        line[g].insert(line[g].index(int(after[s]) - 1) + 1, separator)
        if line[g][-1] != separator or g + 1 == len(line):
            continue
        height = heights[number]
        x, _, w, _ = boxes[line[g + 1][0]]
        cell_left = x + w / 2 - max(w / 2, NARROW_CELL * height / 2)
        x, _, w, _ = separator_boxes[s]
        if (cell_left - (x + w)) / height <= thresholds[number]:
            line[g].extend(line.pop(g + 1))
            where.update((i, (number, h)) for h in range(g, len(line)) for i in line[h])
    return lines

"""Digit boxes -> lines (top to bottom) -> groups (left to right).

Pure geometry on (x, y, w, h) boxes of a deskewed page; the result is indices, so the caller
keeps whatever it attached to each box.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np

# A digit joins a line when its vertical centre is within this many digit heights of the
# line's centre: rows of handwriting sit at least about 1.5 heights apart.
LINE_TOLERANCE = 0.6
# A horizontal gap wider than this many digit heights starts a new group. Digits of one
# number sit about a third of a height apart at most; numbers are set a full height apart.
GROUP_GAP = 0.55
# The narrowest cell a digit takes on a line, in digit heights (a 1's ink is much narrower).
NARROW_CELL = 0.5


def group_lines(boxes: np.ndarray) -> list[list[list[int]]]:
    """Arrange digit boxes into lines of groups.

    Parameters
    ----------
    boxes : (N, 4) array of (x, y, w, h)

    Returns
    -------
    Lines from top to bottom; each a list of groups from left to right; each group a list of
    indices into ``boxes`` from left to right.
    """
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    if len(boxes) == 0:
        return []
    heights = boxes[:, 3]
    digit_height = float(np.median(heights))
    centres_y = boxes[:, 1] + heights / 2

    lines: list[list[int]] = []
    line_centres: list[float] = []
    for i in np.argsort(centres_y, kind="stable"):
        if line_centres and abs(centres_y[i] - line_centres[-1]) <= LINE_TOLERANCE * digit_height:
            lines[-1].append(int(i))
            # Follow a line's slow drift without letting one tall digit drag it.
            line_centres[-1] = float(np.median(centres_y[lines[-1]]))
        else:
            lines.append([int(i)])
            line_centres.append(float(centres_y[i]))
    return [split_groups(boxes, line) for line in lines]


def split_groups(boxes: np.ndarray, line: list[int]) -> list[list[int]]:
    """Order one line's digits left to right and cut it where the gaps are wide."""
    order = sorted(line, key=lambda i: boxes[i, 0] + boxes[i, 2] / 2)
    line_height = float(np.median(boxes[order, 3]))
    # A 1 is a narrow box in a digit-wide cell: measure gaps between cells, not ink, or
    # every 1 would look set apart.
    centres = boxes[:, 0] + boxes[:, 2] / 2
    half_widths = np.maximum(boxes[:, 2] / 2, NARROW_CELL * line_height / 2)
    groups = [[order[0]]]
    for previous, current in pairwise(order):
        gap = (centres[current] - half_widths[current]) - (
            centres[previous] + half_widths[previous]
        )
        if gap > GROUP_GAP * line_height:
            groups.append([current])
        else:
            groups[-1].append(current)
    return groups

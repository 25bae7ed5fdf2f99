"""Draw a page's recognised digits over its image, for people to check at a glance."""

from __future__ import annotations

import cv2
import numpy as np

from notes_ocr.results import Page

GOOD = (40, 150, 40)  # BGR
DOUBTFUL = (30, 30, 220)
LINE = (190, 110, 20)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def draw_page(image: np.ndarray, page: Page, doubtful_below: float = 0.8) -> np.ndarray:
    """A BGR copy of ``image`` with each line's box and text, and each digit's box.

    Digits whose confidence is below ``doubtful_below`` are boxed in red, the rest in green;
    the line's text is written to the right of its box.
    """
    canvas = image.copy() if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    for line in page.lines:
        x, y, w, h = line.box
        heights = [digit.box[3] for digit in line.digits]
        size = float(np.median(heights)) / 30  # text and strokes in proportion to the digits
        thick = max(1, round(2 * size))
        pad = max(2, round(4 * size))
        cv2.rectangle(canvas, (x - pad, y - pad), (x + w + pad, y + h + pad), LINE, thick)
        for digit in line.digits:
            dx, dy, dw, dh = digit.box
            colour = GOOD if digit.confidence >= doubtful_below else DOUBTFUL
            cv2.rectangle(canvas, (dx, dy), (dx + dw, dy + dh), colour, max(1, thick - 1))
        baseline = y + h // 2 + round(12 * size)
        cv2.putText(canvas, line.text, (x + w + 4 * pad, baseline), FONT, 0.8 * size, LINE,
                    thick, cv2.LINE_AA)
    return canvas

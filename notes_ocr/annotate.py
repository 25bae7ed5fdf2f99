"""Draw a page's recognised digits over its image, for people to check at a glance."""

from __future__ import annotations

import cv2
import numpy as np

from notes_ocr.results import Page

GOOD = (40, 160, 40)  # BGR
DOUBTFUL = (30, 30, 220)
LINE = (200, 120, 30)


def draw_page(image: np.ndarray, page: Page, doubtful_below: float = 0.8) -> np.ndarray:
    """A BGR copy of ``image`` with line boxes, digit boxes and the read digits drawn on it.

    Digits whose confidence is below ``doubtful_below`` are drawn in red.
    """
    canvas = image.copy() if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    scale = max(canvas.shape[:2]) / 1500  # line widths and text that read at any size
    thick = max(1, round(2 * scale))
    for line in page.lines:
        x, y, w, h = line.box
        pad = max(2, round(6 * scale))
        cv2.rectangle(canvas, (x - pad, y - pad), (x + w + pad, y + h + pad), LINE, thick)
        for digit in line.digits:
            dx, dy, dw, dh = digit.box
            colour = GOOD if digit.confidence >= doubtful_below else DOUBTFUL
            cv2.rectangle(canvas, (dx, dy), (dx + dw, dy + dh), colour, thick)
            cv2.putText(canvas, digit.char, (dx, max(dy - pad - 2, 12)),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.9 * scale, colour, thick, cv2.LINE_AA)
    return canvas

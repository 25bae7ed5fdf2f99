"""Draw the README's picture: an example page with what notes-ocr read drawn over it.

    python examples/make_figure.py     (writes docs/annotated_page.png)
"""

from __future__ import annotations

from pathlib import Path

import cv2

import notes_ocr
from notes_ocr.annotate import draw_page

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "examples" / "ruled_blue.jpg"
OUT = ROOT / "docs" / "annotated_page.png"


def main() -> None:
    (page,) = notes_ocr.scan(PAGE)
    image = cv2.imread(str(PAGE))
    drawn = draw_page(image, page)
    # Crop to the written part of the page, with room for the text drawn right of each line.
    x0 = min(line.box[0] for line in page.lines) - 60
    y0 = min(line.box[1] for line in page.lines) - 70
    x1 = max(line.box[0] + line.box[2] for line in page.lines) + 420
    y1 = max(line.box[1] + line.box[3] for line in page.lines) + 40
    crop = drawn[max(y0, 0) : y1, max(x0, 0) : x1]
    OUT.parent.mkdir(exist_ok=True)
    cv2.imwrite(str(OUT), crop)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()

"""One condition of a page changed at a time: a plain scan of ruled paper (BASE) with one
thing changed (``CONDITIONS``: digit size, pen width, blur, noise, slant, tilt, pencil,
shadow, specks, touching and broken digits, a phone photo), each scored on the same seeds
in both hands. ``benchmarks/conditions.py`` prints the table; a test reads one."""

from __future__ import annotations

from dataclasses import replace

import cv2

from notes_ocr.pipeline import Scanner
from notes_ocr.testing.metrics import Score, total
from notes_ocr.testing.synth import STYLES, PageSpec, make_page

BASE = PageSpec(paper="ruled", touching=0.05, broken=0.03, noise=2.0, blur=0.6)
SEED = 100
JPEG_QUALITY = 90
CONDITIONS: dict[str, dict] = {
    "base (ruled scan, 44 px digits, 4 px pen)": {},
    "digits 22 px, pen 2 px": {"digit_height_px": 22.0, "pen_width_px": 2.0},
    "digits 30 px, pen 2.5 px": {"digit_height_px": 30.0, "pen_width_px": 2.5},
    "digits 90 px, pen 7 px": {"digit_height_px": 90.0, "pen_width_px": 7.0},
    "digits 160 px, pen 10 px": {"digit_height_px": 160.0, "pen_width_px": 10.0, "n_lines": 4},
    "fine pen 1.5 px": {"pen_width_px": 1.5},
    "marker 9 px": {"pen_width_px": 9.0},
    "slant 20 degrees": {"slant_degrees": 20.0},
    "tilt 5 degrees": {"tilt_degrees": 5.0},
    "blur sigma 1.5 px": {"blur": 1.5},
    "blur sigma 2.5 px": {"blur": 2.5},
    "noise sigma 10": {"noise": 10.0},
    "pencil": {"ink": "pencil"},
    "shadow and uneven light": {"shadow": 0.5, "lighting": 0.3},
    "80 specks": {"specks": 80},
    "grid paper": {"paper": "grid"},
    "30% of digits touching": {"touching": 0.3},
    "30% of digits broken": {"broken": 0.3},
    "phone photo": {"photo": True, "perspective": 0.1},
}


def score_condition(change: dict, pages: int, scanner: Scanner, mnist) -> dict[str, Score]:
    """Scores of ``pages`` pages drawn with ``change`` applied to BASE, by hand: "mnist",
    "script" and "all"."""
    scores = {style: Score() for style in STYLES}
    for i in range(pages):
        style = STYLES[i % 2]
        spec = replace(BASE, seed=SEED + i, style=style, **change)
        page = make_page(spec, mnist.x_test, mnist.y_test)
        ok, data = cv2.imencode(".jpg", page.image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        read = scanner.scan_array(cv2.imdecode(data, cv2.IMREAD_COLOR))
        scores[style].add([line.text for line in read.lines], page.lines)
    scores["all"] = total(list(scores.values()))
    return scores

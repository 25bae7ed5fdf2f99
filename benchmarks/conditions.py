"""Where the reading breaks: one condition of the page changed at a time.

    python -m benchmarks.conditions [--pages 8] [--only NAME ...] [--json PATH]

The page benchmark mixes conditions as they come on real notes; this one holds a plain
scan of ruled paper fixed and changes one thing at a time (digit size, pen width, blur,
noise, slant, tilt, pencil, shadow, specks, touching and broken digits, a phone photo), so
a weakness shows up by name. Each condition is scored on the same ``--pages`` seeds, half
of them MNIST test digits and half the second hand ("script"), JPEG-compressed at quality
90 like a scanner's output, read in-process by `Scanner.scan_array`.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import cv2

from notes_ocr import Scanner
from notes_ocr.mnist import load_mnist
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=8, help="pages per condition, half "
                        "in each hand")
    parser.add_argument("--only", nargs="+", choices=list(CONDITIONS), metavar="NAME",
                        help="score only these conditions")
    parser.add_argument("--json", type=Path, help="write the numbers to this JSON file")
    args = parser.parse_args(argv)
    if args.pages < 1:
        parser.error("--pages must be at least 1")
    began = time.perf_counter()
    mnist, scanner = load_mnist(), Scanner()
    print("| condition | CER | exact lines | CER, MNIST digits | CER, second hand |")
    print("|---|---|---|---|---|")
    numbers = {}
    for name in args.only or CONDITIONS:
        scores = score_condition(CONDITIONS[name], args.pages, scanner, mnist)
        print(f"| {name} | {scores['all'].cer:.2%} | {scores['all'].exact_line_rate:.1%} | "
              f"{scores['mnist'].cer:.2%} | {scores['script'].cer:.2%} |", flush=True)
        numbers[name] = {style: {"cer": score.cer, "exact_lines": score.exact_line_rate}
                         for style, score in scores.items()}
    print(f"\n{args.pages} pages per condition; benchmark run time: "
          f"{time.perf_counter() - began:.0f} s")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"pages": args.pages, "conditions": numbers}, indent=2))


if __name__ == "__main__":
    main()

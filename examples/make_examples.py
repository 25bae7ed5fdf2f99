"""Write the example note pages in examples/ and their truth, examples/truth.json.

Run from anywhere: ``python examples/make_examples.py``. The pages are A5 at about 213 dpi
(1240 x 1748 px), drawn from fixed seeds with MNIST test digits, so rerunning it gives the
same files (up to the JPEG encoder's version).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Run as a script, only examples/ is on the path; the packages live in the repository root.
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

from notes_ocr.mnist import load_mnist  # noqa: E402
from notes_ocr.testing.synth import PageSpec, make_page, write_page  # noqa: E402

A5_WIDTH, A5_HEIGHT, A5_DPI = 1240, 1748, 213.0

# (file name, page, JPEG quality); PNG ignores the quality.
EXAMPLES: list[tuple[str, PageSpec, int]] = [
    (
        "ruled_blue.jpg",
        PageSpec(
            A5_WIDTH, A5_HEIGHT, A5_DPI, paper="ruled", ink="blue", tilt_degrees=1.5,
            digit_height_px=40, pen_width_px=3.6, slant_degrees=4, n_lines=7, margin_line=True,
            lighting=0.12, noise=2.0, specks=15, blur=0.5, seed=101,
        ),
        85,
    ),
    (
        "plain_black.png",
        # A clean flatbed scan: no sensor noise, which also keeps the PNG small.
        PageSpec(
            A5_WIDTH, A5_HEIGHT, A5_DPI, paper="plain", ink="black", tilt_degrees=0.4,
            digit_height_px=46, pen_width_px=4.5, slant_degrees=-2, n_lines=6,
            lighting=0.04, noise=0.0, specks=8, blur=0.4, seed=202,
        ),
        0,
    ),
    (
        "grid_pencil.jpg",
        PageSpec(
            A5_WIDTH, A5_HEIGHT, A5_DPI, paper="grid", ink="pencil", tilt_degrees=-0.8,
            digit_height_px=44, pen_width_px=3.6, slant_degrees=6, n_lines=6,
            lighting=0.1, noise=2.5, specks=20, blur=0.5, seed=303,
        ),
        85,
    ),
    (
        "ruled_black_shadow.jpg",
        PageSpec(
            A5_WIDTH, A5_HEIGHT, A5_DPI, paper="ruled", ink="black", tilt_degrees=-1.0,
            digit_height_px=38, pen_width_px=3.4, slant_degrees=0, n_lines=8, margin_line=True,
            lighting=0.3, shadow=0.45, noise=3.0, specks=25, blur=0.7, seed=404,
        ),
        80,
    ),
    (
        "plain_blue_tilted.jpg",
        PageSpec(
            A5_WIDTH, A5_HEIGHT, A5_DPI, paper="plain", ink="blue", tilt_degrees=3.0,
            digit_height_px=50, pen_width_px=5.0, slant_degrees=8, n_lines=5,
            lighting=0.15, noise=2.0, specks=12, blur=0.6, seed=505,
        ),
        85,
    ),
]  # fmt: skip


def main() -> None:
    """Render every example page, then write truth.json next to them."""
    mnist = load_mnist()
    truth: dict[str, list[str]] = {}
    for name, spec, quality in EXAMPLES:
        page = make_page(spec, mnist.x_test, mnist.y_test)
        path = write_page(page, HERE / name, jpeg_quality=quality)
        truth[name] = page.lines
        print(f"{path.name}: {path.stat().st_size // 1024} KB, {len(page.lines)} lines")
    (HERE / "truth.json").write_text(json.dumps(truth, indent=2) + "\n")


if __name__ == "__main__":
    main()

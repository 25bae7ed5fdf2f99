"""Start-up benchmark: a cold `notes-ocr scan page.jpg` against a cold `import tensorflow`.

    python -m benchmarks.startup [--runs 5] [PAGE]

Each run is a fresh Python process, as a user's command is; the two commands alternate so
that both see the same machine load. Scanning never imports TensorFlow, which is the point.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

PAGE = Path(__file__).resolve().parent.parent / "examples" / "ruled_blue.jpg"


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", nargs="?", type=Path, default=PAGE)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    scan = [sys.executable, "-m", "notes_ocr", "scan", str(args.page)]
    tensorflow = [sys.executable, "-c", "import tensorflow"]
    timed(scan), timed(tensorflow)  # warm the OS file cache for both
    scans, imports = [], []
    for _ in range(args.runs):
        scans.append(timed(scan))
        imports.append(timed(tensorflow))
    scan_s, import_s = statistics.median(scans), statistics.median(imports)
    print(f"notes-ocr scan {args.page.name}: median {scan_s:.2f} s over {args.runs} runs")
    print(f"python -c 'import tensorflow': median {import_s:.2f} s over {args.runs} runs")
    print(f"ratio scan / import tensorflow: {scan_s / import_s:.2f} (floor: at most 0.50)")


if __name__ == "__main__":
    main()

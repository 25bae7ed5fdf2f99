"""Scan a folder of note pages with the library and print what was read.

    python examples/scan_folder.py [FOLDER]     (default: this examples/ folder)
"""

from __future__ import annotations

import sys
from pathlib import Path

import notes_ocr


def main() -> int:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
    failed = 0
    for page in notes_ocr.scan(folder):
        if page.error:
            failed += 1
            print(f"{page.source}: {page.error.type}: {page.error.message}", file=sys.stderr)
            continue
        print(f"{page.source} (page {page.page}, {page.width}x{page.height})")
        for line in page.lines:
            doubtful = [d.char for d in line.digits if d.confidence < 0.8]
            note = f"   (unsure of {' '.join(doubtful)})" if doubtful else ""
            print(f"  {line.text:<30} confidence {line.confidence:.2f}{note}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

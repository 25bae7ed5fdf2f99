"""What a batch scan can be asked to do, with its defaults: one definition for the library,
the command line and Ray.

Light on purpose (no OpenCV, no NumPy): the command line builds its parser from it before
anything heavy is imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# The most pixels a page may have, checked from the file's header before anything is
# decoded: a 100-megapixel page is an A3 sheet scanned at 1200 dpi, while a small file that
# declares 30000 x 30000 pixels (a decompression bomb) would take gigabytes to decode.
MAX_PIXELS = 100_000_000
# How long a worker may take over one page before it is stopped, in seconds: pages take
# well under a second, a 100-megapixel page a few; a page still going after this is
# stuck (a pathological file), and the batch goes on without it.
PAGE_TIMEOUT = 120.0


@dataclass(frozen=True)
class ScanOptions:
    """How pages are read; ``notes-ocr scan``'s options of the same names set them.

    jobs: worker processes reading pages (None: one per CPU this process may use).
    page_timeout: seconds a page may take before it is given up with a PageTimeout record
        (None: no limit; pages are then read in this process when ``jobs`` is 1).
    min_confidence: digits and separators read with less confidence come out as ``?``.
    digits_only: lines hold digits and spaces alone (``12 05 2019``), not the separators
        read inside numbers (``12/05/2019``).
    max_pixels: pages of more pixels are refused from their headers (None: no limit).
    model: a model file or folder (None: the one shipped in the package).
    ray: the address of a Ray cluster to read the pages on ("local", "auto",
        "host:6379", "ray://..."); None reads them on this machine.
    """

    jobs: int | None = None
    page_timeout: float | None = PAGE_TIMEOUT
    min_confidence: float = 0.0
    digits_only: bool = False
    max_pixels: int | None = MAX_PIXELS
    model: Path | None = None
    ray: str | None = None

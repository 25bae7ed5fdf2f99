"""Draw a page's recognised digits over its image, for people to check at a glance."""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from notes_ocr.errors import NotesOcrError
from notes_ocr.files import AtomicFile, new_file_mode
from notes_ocr.options import MAX_PIXELS
from notes_ocr.results import Box, Page
from notes_ocr.sources import read_page

GOOD = (40, 150, 40)  # BGR
DOUBTFUL = (30, 30, 220)
LINE = (190, 110, 20)
FONT = cv2.FONT_HERSHEY_SIMPLEX
DOUBTFUL_BELOW = 0.8  # digits read with less confidence are marked for a person to check
JPEG_QUALITY = 90


def draw_page(
    image: np.ndarray, page: Page, doubtful_below: float = DOUBTFUL_BELOW, scale: float = 1.0
) -> np.ndarray:
    """A BGR copy of ``image`` with each line's box and text, and each digit's box.

    Digits whose confidence is below ``doubtful_below`` are boxed in red, the rest in green;
    the line's text is written to the right of its box. ``scale`` is the image's size over
    the page's, for drawing on a smaller copy of the page (a thumbnail).
    """
    canvas = image.copy() if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)

    def scaled(box: Box) -> tuple[int, int, int, int]:
        x, y, w, h = (round(value * scale) for value in box)
        return x, y, w, h

    for line in page.lines:
        x, y, w, h = scaled(line.box)
        heights = [scaled(char.box)[3] for char in line.chars]
        size = float(np.median(heights)) / 30  # text and strokes in proportion to the writing
        thick = max(1, round(2 * size))
        pad = max(2, round(4 * size))
        cv2.rectangle(canvas, (x - pad, y - pad), (x + w + pad, y + h + pad), LINE, thick)
        for char in line.chars:
            dx, dy, dw, dh = scaled(char.box)
            colour = GOOD if char.confidence >= doubtful_below else DOUBTFUL
            cv2.rectangle(canvas, (dx, dy), (dx + dw, dy + dh), colour, max(1, thick - 1))
        baseline = y + h // 2 + round(12 * size)
        cv2.putText(canvas, line.text, (x + w + 4 * pad, baseline), FONT, 0.8 * size, LINE,
                    thick, cv2.LINE_AA)
    return canvas


def annotated_name(page: Page, root: Path) -> Path:
    """Where a page's drawing goes under the output folder: the page's path below ``root``
    (the folder holding all the inputs), its file name followed by the page number."""
    path = Path(os.path.abspath(page.source))
    try:
        relative = path.relative_to(root)
    except ValueError:
        relative = Path(path.name)
    return relative.with_name(f"{relative.name}-page{page.page}.jpg")


def input_root(sources: list[str]) -> Path:
    """The deepest folder holding every one of ``sources``."""
    folders = [os.path.dirname(os.path.abspath(source)) for source in sources]
    return Path(os.path.commonpath(folders)) if folders else Path.cwd()


class Annotator:
    """Writes each page, drawn over with what was read, as a JPEG under ``folder``.

    The page is read again from its file (refused, like the scan, past ``max_pixels``) and
    drawn in a background thread, a few pages at a time, so the batch does not wait for
    it. Files are named by ``annotated_name``. ``errors`` lists a line for every page that
    could not be written.
    """

    wants_thumbnails = False  # it reads each page again, whole

    def __init__(self, folder: Path, root: Path, doubtful_below: float = DOUBTFUL_BELOW,
                 threads: int = 2, max_pixels: int | None = MAX_PIXELS) -> None:
        self.folder = folder
        self.root = root
        self.doubtful_below = doubtful_below
        self.max_pixels = max_pixels
        # As open() would make the files; read here, since reading the mask means setting
        # it for a moment, which the drawing threads must not race.
        self.mode = new_file_mode()
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="annotate")
        self.pending: deque[tuple[Page, Future]] = deque()
        self.limit = 2 * threads
        self.errors: list[str] = []
        self.written = 0

    def add(self, page: Page, thumbnail: np.ndarray | None = None) -> None:
        """Draw ``page`` (a page that failed has nothing to draw and is passed over)."""
        if page.error:
            return
        while len(self.pending) >= self.limit:
            self.collect(*self.pending.popleft())
        self.pending.append((page, self.pool.submit(self.write, page)))

    def write(self, page: Page) -> None:
        """Read the page again, draw on it and write it; NotesOcrError saying why not."""
        target = self.folder / annotated_name(page, self.root)
        image = read_page(page.source, page.page, self.max_pixels).image
        drawn = draw_page(image, page, self.doubtful_below)
        try:
            encoded, jpeg = cv2.imencode(".jpg", drawn, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            if not encoded:
                raise NotesOcrError(f"{target}: cannot write the annotated page (the image "
                                    "encoder refused it)")
            target.parent.mkdir(parents=True, exist_ok=True)
            # Python writes it, not OpenCV's image writer, which crashes the process on a
            # name that is not UTF-8.
            with AtomicFile(target, binary=True, permissions=self.mode) as file:
                file.write(jpeg.tobytes())
        except (OSError, cv2.error) as exc:
            reason = getattr(exc, "strerror", None) or str(exc).strip().splitlines()[-1]
            raise NotesOcrError(f"{target}: cannot write the annotated page ({reason})") from None

    def collect(self, page: Page, future: Future) -> None:
        try:
            future.result()
            self.written += 1
        except NotesOcrError as exc:
            self.errors.append(str(exc))
        except Exception as exc:  # a drawing that fails must not stop the batch
            self.errors.append(f"{page.source}: cannot annotate page {page.page} "
                               f"({type(exc).__name__}: {exc})")

    def close(self, summary: str = "") -> None:
        """Wait for the pages still being drawn."""
        while self.pending:
            self.collect(*self.pending.popleft())
        self.pool.shutdown()

    def discard(self) -> None:
        """The batch was cut short: the drawings under way are finished all the same (each
        file is whole or not there)."""
        self.close()

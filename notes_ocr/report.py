"""One static HTML page for a batch: each page's thumbnail and lines, and the failed files.

The page works offline and on its own: thumbnails are embedded as ``data:`` URIs, the style
sheet is inline, there is no script and nothing is fetched. It is written as the pages come,
so that a batch of any length keeps only one page in memory; the summary and the list of
failed files are written last and shown first (CSS ``order``). It is written under a
temporary name beside the file and renamed to it once complete, so that a run cut short
leaves the file as it was.
"""

from __future__ import annotations

import base64
import contextlib
import html
import os
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import cv2
import numpy as np

from notes_ocr.annotate import DOUBTFUL_BELOW, draw_page
from notes_ocr.errors import NotesOcrError
from notes_ocr.files import AtomicFile
from notes_ocr.results import Line, Page, printable_page

THUMBNAIL_QUALITY = 80  # JPEG quality of the embedded thumbnails

STYLE = """
body { font: 15px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
main { display: flex; flex-direction: column; gap: 1em; }
.overview { order: -1; }
.page { display: flex; gap: 1.5em; align-items: flex-start; border-top: 1px solid #ccc;
        padding-top: 1em; }
.page img { border: 1px solid #aaa; max-width: 45vw; height: auto; }
.page h2 { font-size: 1em; margin: 0 0 .5em; word-break: break-all; }
.lines { font: 1.1em/1.6 ui-monospace, monospace; padding-left: 2.5em; margin: 0; }
.doubtful { background: #fdd; color: #a00; }
.confidence { color: #777; font-size: .8em; margin-left: 1em; }
.error { color: #a00; }
.none { color: #777; }
"""


def data_uri(image: np.ndarray) -> str:
    """A ``data:`` URI of ``image`` as a JPEG."""
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, THUMBNAIL_QUALITY])
    if not ok:
        raise ValueError("cannot encode the thumbnail")
    return "data:image/jpeg;base64," + base64.b64encode(encoded.tobytes()).decode("ascii")


def line_html(line: Line, doubtful_below: float) -> str:
    """A line's text, its doubtful characters marked, and its mean confidence."""
    chars = iter(line.chars)
    parts = []
    for char in line.text:
        if char == " ":
            parts.append(" ")
            continue
        read = next(chars)
        text = html.escape(read.char)
        if read.confidence < doubtful_below:
            title = f"confidence {read.confidence:.2f}"
            text = f'<span class="doubtful" title="{title}">{text}</span>'
        parts.append(text)
    confidence = f'<span class="confidence">{line.confidence:.2f}</span>'
    return f"<li>{''.join(parts)}{confidence}</li>"


class HtmlReport:
    """Writes the report for ``path`` page by page; ``close`` adds the summary and puts the
    page in place.

    The page is written under a temporary name beside ``path`` (through a link, beside its
    target), synced to disk and renamed to it by ``close``: until then ``path`` holds what it
    held before. Used in a ``with`` block, a report not closed by its end (a run cut short)
    is dropped, as ``discard`` does. Raises NotesOcrError, one line, when it cannot be
    written.
    """

    wants_thumbnails = True  # each page is shown small, drawn over with what was read

    def __init__(self, path: Path, title: str = "notes-ocr report",
                 doubtful_below: float = DOUBTFUL_BELOW) -> None:
        self.path = path
        self.doubtful_below = doubtful_below
        self.failed: list[tuple[int, Page]] = []  # section number, page
        self.count = 0
        self.file: AtomicFile | None = None  # until the report is in place or dropped
        if Path(os.path.realpath(path)).is_dir():  # said now, not once the batch is read
            raise NotesOcrError(f"{path}: cannot write the report (is a folder)")
        with self.writing():
            self.file = AtomicFile(path)
            self.file.stream.write(
                "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style></head>\n"
                f"<body><main>\n"
            )

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """An OSError within becomes NotesOcrError naming the report, which is dropped."""
        try:
            yield
        except OSError as exc:
            self.discard()
            raise NotesOcrError(
                f"{self.path}: cannot write the report ({exc.strerror or exc})"
            ) from None

    def add(self, page: Page, thumbnail: np.ndarray | None = None) -> None:
        """A section for ``page``: its thumbnail, drawn over with what was read, and its lines."""
        page = printable_page(page)  # the page is UTF-8; a file's name may not be
        self.count += 1
        name = html.escape(page.source) + (f" (page {page.page})" if page.page > 1 else "")
        parts = [f'<section class="page" id="page-{self.count}">']
        if thumbnail is not None and page.width:
            drawn = draw_page(thumbnail, page, self.doubtful_below,
                              scale=thumbnail.shape[1] / page.width)
            height, width = thumbnail.shape[:2]
            parts.append(f'<img src="{data_uri(drawn)}" width="{width}" height="{height}" '
                         f'alt="{name}">')
        parts.append(f"<div><h2>{name}</h2>")
        if page.error:
            self.failed.append((self.count, page))
            parts.append(f'<p class="error">{html.escape(page.error.message)}</p>')
        elif page.lines:
            lines = "\n".join(line_html(line, self.doubtful_below) for line in page.lines)
            parts.append(f'<ol class="lines">\n{lines}\n</ol>')
        else:
            parts.append('<p class="none">no digits found</p>')
        parts.append("</div></section>\n")
        with self.writing():
            self.file.stream.write("".join(parts))

    def close(self, summary: str) -> None:
        """Write the summary line and the failed files, end the page and put it in place."""
        failed = "".join(
            f'<li><a href="#page-{index}">{html.escape(page.source)}</a>: '
            f"{html.escape(page.error.message.removeprefix(page.source + ': '))}</li>\n"
            for index, page in self.failed
            if page.error
        )
        with self.writing():
            self.file.stream.write(
                f'<section class="overview"><h1>notes-ocr</h1><p>{html.escape(summary)}</p>\n'
                f"<h2>Failed files</h2>\n"
                + (f"<ul>\n{failed}</ul>" if failed else '<p class="none">none</p>')
                + "</section>\n</main></body></html>\n"
            )
            self.file.commit()
            self.file = None

    def discard(self) -> None:
        """Drop the report if it is not in place yet: ``path`` is left as it was."""
        if self.file is not None:
            self.file.discard()
            self.file = None

    def __enter__(self) -> HtmlReport:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.discard()  # nothing to drop once closed

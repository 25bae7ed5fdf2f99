"""Page, Line and Char records, and the text, JSON Lines, JSON and CSV writers."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from numbers import Integral, Real
from pathlib import Path
from typing import IO, Any

from notes_ocr.errors import InternalError, NotesOcrError
from notes_ocr.files import AtomicFile

Box = tuple[int, int, int, int]  # x, y, w, h in the original page's pixels

# The records below are the output format: JSON Lines, JSON and CSV write ``to_dict()``,
# --resume reads records back with ``from_dict``, and Ray's rows have the Arrow schema
# ``cluster.record_schema`` derives from the same fields. Each ``from_dict`` takes what its
# ``to_dict`` gives (numbers of NumPy's kinds too, as Arrow rows hold) and raises
# ValueError for anything else.


@dataclass(frozen=True)
class Char:
    """One character read: a digit, a separator (one of ``/-.,:``), or ``?`` where the
    reading is less sure than the scan's minimum confidence."""

    char: str
    confidence: float
    box: Box

    def to_dict(self) -> dict:
        return {"char": self.char, "confidence": round(self.confidence, 4), "box": list(self.box)}

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> Char:
        return cls(_text(record, "char"), _real(record, "confidence"), _box(record, "box"))


@dataclass(frozen=True)
class Line:
    """One line of writing: its characters left to right, ``text`` with a space between
    groups."""

    text: str
    box: Box
    confidence: float  # mean of the characters'
    chars: list[Char]

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "box": list(self.box),
            "confidence": round(self.confidence, 4),
            "chars": [char.to_dict() for char in self.chars],
        }

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> Line:
        # Records of versions before separators were read call the characters "digits".
        key = "digits" if "digits" in record and "chars" not in record else "chars"
        chars = [Char.from_dict(_mapping(char)) for char in _sequence(record, key)]
        return cls(_text(record, "text"), _box(record, "box"), _real(record, "confidence"),
                   chars)


@dataclass(frozen=True)
class PageError:
    """Why a page has no lines: ``type`` a stable name (``errors.NotesOcrError.code``), and
    a one-line message naming the file."""

    type: str
    message: str

    def to_dict(self) -> dict:
        return {"type": self.type, "message": self.message}

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> PageError:
        return cls(_text(record, "type"), _text(record, "message"))


@dataclass(frozen=True)
class Page:
    """The result for one page; ``error`` is set, and ``lines`` empty, when it failed."""

    source: str
    page: int
    width: int
    height: int
    lines: list[Line] = field(default_factory=list)
    error: PageError | None = None

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "page": self.page,
            "width": self.width,
            "height": self.height,
            "lines": [line.to_dict() for line in self.lines],
            "error": self.error.to_dict() if self.error else None,
        }

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> Page:
        """A page from its ``to_dict()`` record; other keys (a Ray row's index) are ignored."""
        record = _mapping(record)
        source, page = _text(record, "source"), _integer(record, "page")
        if not source or page < 1:
            raise ValueError("a page record names its file and a page number from 1")
        error = record.get("error")
        return cls(
            source, page, _integer(record, "width"), _integer(record, "height"),
            lines=[Line.from_dict(_mapping(line)) for line in _sequence(record, "lines")],
            error=None if error is None else PageError.from_dict(_mapping(error)),
        )


def _mapping(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"expected an object, got {type(value).__name__}")
    return value


def _field(record: Mapping[str, Any], key: str) -> Any:
    if key not in record:
        raise ValueError(f"no {key!r}")
    return record[key]


def _text(record: Mapping[str, Any], key: str) -> str:
    value = _field(record, key)
    if not isinstance(value, str):
        raise ValueError(f"{key!r} is not text")
    return value


def _integer(record: Mapping[str, Any], key: str) -> int:
    value = _field(record, key)
    if not isinstance(value, Integral) or isinstance(value, bool):
        raise ValueError(f"{key!r} is not a whole number")
    return int(value)


def _real(record: Mapping[str, Any], key: str) -> float:
    value = _field(record, key)
    if not isinstance(value, Real) or isinstance(value, bool):
        raise ValueError(f"{key!r} is not a number")
    return float(value)


def _sequence(record: Mapping[str, Any], key: str) -> Sequence[Any]:
    value = _field(record, key)
    if isinstance(value, str | bytes | Mapping) or not hasattr(value, "__len__"):
        raise ValueError(f"{key!r} is not a list")
    return list(value)


def _box(record: Mapping[str, Any], key: str) -> Box:
    values = _sequence(record, key)
    if len(values) != 4:
        raise ValueError(f"{key!r} is not four numbers")
    x, y, w, h = (_integer({key: value}, key) for value in values)
    return (x, y, w, h)


def failed_page(source: str, page: int, exc: BaseException, shape: tuple[int, int] = (0, 0)
                ) -> Page:
    """The record of a page (of ``shape``, height and width, where it is known) that could
    not be read: the one place where an exception becomes a record.

    A NotesOcrError gives its ``code`` and its one-line message; anything else is an
    InternalError naming the exception, its message made one line (OpenCV's run over
    several).
    """
    height, width = shape
    if isinstance(exc, NotesOcrError):
        error = PageError(exc.code, str(exc))
    else:
        reason = " ".join(str(exc).split())
        error = PageError(InternalError.code, f"{source}: {type(exc).__name__}: {reason}")
    return Page(source, page, width, height, error=error)


# A file name that is not UTF-8 reaches Python as a string with lone surrogates in it, which
# no UTF-8 writer takes as they are.
SURROGATE = re.compile("[\ud800-\udfff]")


def printable(text: str) -> str:
    """``text`` with any lone surrogate (from a name that is not UTF-8) written as ``\\udcXX``."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def printable_page(page: Page) -> Page:
    """``page`` with its source and error message ``printable``, fit for a UTF-8 page."""
    error = page.error and PageError(page.error.type, printable(page.error.message))
    return replace(page, source=printable(page.source), error=error)


def json_text(value: object) -> str:
    """``value`` as JSON, non-ASCII kept as it is, a lone surrogate escaped as ``\\udcXX``:
    valid UTF-8, and Python's json reads the name back exactly (``--resume`` needs it)."""
    text = json.dumps(value, ensure_ascii=False)
    return SURROGATE.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


def union_box(boxes: Iterable[Box]) -> Box:
    boxes = list(boxes)
    x0 = min(b[0] for b in boxes)
    y0 = min(b[1] for b in boxes)
    x1 = max(b[0] + b[2] for b in boxes)
    y1 = max(b[1] + b[3] for b in boxes)
    return (x0, y0, x1 - x0, y1 - y0)


def make_line(groups: list[list[Char]]) -> Line:
    chars = [char for group in groups for char in group]
    text = " ".join("".join(char.char for char in group) for group in groups)
    confidence = sum(char.confidence for char in chars) / len(chars)
    return Line(text, union_box(char.box for char in chars), confidence, chars)


# The format an output file's name asks for, when none is given.
SUFFIX_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv"}


def format_for(path: str | os.PathLike | None) -> str:
    """The output format for a file named ``path`` (by its suffix; text if none fits)."""
    suffix = os.path.splitext(path)[1].lower() if path is not None else ""
    return SUFFIX_FORMATS.get(suffix, "text")


class PageWriter:
    """Writes page records to a stream as they come, in one of the output formats.

    Every record is written and flushed in one piece as soon as it is given: a JSON Lines
    file that a crash cuts short holds whole records and at most one torn last line, which
    ``--resume`` drops (``batch.recover_jsonl``).
    """

    formats = ("text", "jsonl", "json", "csv")

    def __init__(self, stream: IO[str], fmt: str, many_pages: bool) -> None:
        if fmt not in self.formats:
            raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(self.formats)}")
        self.stream = stream
        self.format = fmt
        self.many_pages = many_pages
        self.count = 0
        self.csv = csv.writer(stream) if fmt == "csv" else None
        if self.csv:
            self.csv.writerow(["source", "page", "line", "text", "confidence", "error"])
        if fmt == "json":
            stream.write("[")

    def write(self, page: Page) -> None:
        if self.format == "jsonl":
            self.stream.write(json_text(page.to_dict()) + "\n")
        elif self.format == "json":
            separator = "," if self.count else ""
            self.stream.write(f"{separator}\n" + json_text(page.to_dict()))
        elif self.csv:
            source = printable(page.source)
            if page.error:
                self.csv.writerow([source, page.page, "", "", "", printable(page.error.message)])
            for number, line in enumerate(page.lines, start=1):
                self.csv.writerow(
                    [source, page.page, number, line.text, f"{line.confidence:.4f}", ""]
                )
        else:
            self.write_text(page)
        self.count += 1
        self.stream.flush()

    def write_text(self, page: Page) -> None:
        if self.many_pages:
            suffix = f" (page {page.page})" if page.page > 1 else ""
            separator = "\n" if self.count else ""
            self.stream.write(f"{separator}# {printable(page.source)}{suffix}\n")
        if page.error:
            self.stream.write(f"# error: {printable(page.error.message)}\n")
        for line in page.lines:
            self.stream.write(line.text + "\n")

    def close(self) -> None:
        if self.format == "json":
            self.stream.write("\n]\n" if self.count else "]\n")
        self.stream.flush()


# --- output files ----------------------------------------------------------------------------


class RecordsFile:
    """A batch's records written to ``path`` (None: standard output) in ``fmt`` (text,
    jsonl, json or csv; by default from the name's suffix, text if none fits): a sink for
    ``batch.BatchScan.pages``, written so that no result is lost or torn and nothing but
    ``path`` is touched.

    JSON Lines go straight into the file, record by record (``PageWriter`` flushes each),
    so that a run cut short leaves every finished record for ``--resume``; ``append``
    goes on after the records there. The other formats are whole files, replaced by
    ``close`` (``files.AtomicFile``): ``path`` holds either what it held before or the
    complete results, never a torn half. Either way the data are on disk (fsync) once
    closed. A link is written through, not replaced. ``many_pages``: the text format heads
    each page with its file's name. Raises NotesOcrError, one line, when the file cannot
    be written.
    """

    wants_thumbnails = False

    def __init__(self, path: str | os.PathLike | None, fmt: str | None = None,
                 append: bool = False, many_pages: bool = True) -> None:
        self.path = path
        self.format = fmt or format_for(path)
        self.whole: AtomicFile | None = None  # the new version of a whole file
        stream: IO[str] = sys.stdout
        if path is not None:
            target = Path(os.path.realpath(path))
            if target.is_dir():  # said now, not once the whole batch has been read
                raise NotesOcrError(f"{path}: cannot write the results (is a folder)")
            with self.writing():
                if self.format == "jsonl":
                    stream = open(target, "a" if append else "w", encoding="utf-8", newline="")
                else:
                    self.whole = AtomicFile(target)
                    stream = self.whole.stream
        self.stream = stream
        self.writer = PageWriter(stream, self.format, many_pages)

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """An OSError writing ``path`` becomes NotesOcrError naming it (standard output's,
        a reader gone away, is left to the caller)."""
        try:
            yield
        except OSError as exc:
            if self.path is None:
                raise
            raise NotesOcrError(
                f"{self.path}: cannot write the results ({exc.strerror or exc})") from None

    def add(self, page: Page, thumbnail: object = None) -> None:
        with self.writing():
            self.writer.write(page)

    def close(self, summary: str = "") -> None:
        with self.writing():
            self.writer.close()
            if self.whole is not None:
                self.whole.commit()
            elif self.path is not None:
                os.fsync(self.stream.fileno())
                self.stream.close()

    def discard(self) -> None:
        """The batch was cut short: a whole file is dropped, JSON Lines keep their records."""
        if self.whole is not None:
            self.whole.discard()
        elif self.path is not None:
            with contextlib.suppress(OSError):
                self.stream.close()

"""Files, folders and arrays -> grey page images.

Everything the rest of the pipeline sees is a ``PageImage``: a uint8 grey array, dark ink on
light paper, with the file and page number it came from.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from notes_ocr.errors import InputError, UndecodableImage, UnreadableFile

# What a folder walk picks up; a file named on the command line is read whatever its name.
IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".tif", ".tiff", ".bmp", ".dib", ".webp", ".pdf"}
)
# PDF pages are rendered at the resolution of a good scan.
PDF_DPI = 300

# Leading bytes of the formats we decode, so a file's content, not its name, decides.
MAGIC = {
    b"\xff\xd8\xff": "jpeg",
    b"\x89PNG\r\n\x1a\n": "png",
    b"II*\x00": "tiff",
    b"MM\x00*": "tiff",
    b"BM": "bmp",
    b"%PDF-": "pdf",
}


@dataclass(frozen=True)
class PageImage:
    source: str  # the path as the user gave it, or "<array>"
    page: int  # 1-based within the file
    image: np.ndarray  # (H, W) uint8 grey


def list_inputs(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Expand the user's paths: files as given, folders walked recursively in sorted order.

    A folder contributes only the files whose names look like images; a path that does not
    exist is kept, so that reading it reports the problem in its own record.
    """
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = [
                p
                for p in path.rglob("*")
                if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
            ]
            out.extend(sorted(found))
        else:
            out.append(path)
    return out


def sniff_format(data: bytes) -> str | None:
    """The image format named by a file's leading bytes, or None."""
    for magic, name in MAGIC.items():
        if data.startswith(magic):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def read_pages(path: str | os.PathLike) -> list[PageImage]:
    """Read every page of an image file (several for a multi-page TIFF) as grey images.

    Raises UnreadableFile or UndecodableImage with a one-line reason.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UnreadableFile(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UnreadableFile(f"{path}: is a folder") from None
    except PermissionError:
        raise UnreadableFile(f"{path}: permission denied") from None
    except OSError as exc:
        raise UnreadableFile(f"{path}: cannot read ({exc.strerror or exc})") from None
    return [PageImage(str(path), number, image) for number, image in decode(data, path)]


def decode(data: bytes, path: Path) -> list[tuple[int, np.ndarray]]:
    """Decode image bytes into (page number, grey image) pairs."""
    if not data:
        raise UndecodableImage(f"{path}: empty file")
    kind = sniff_format(data)
    if kind is None:
        raise UndecodableImage(
            f"{path}: not a supported image or PDF (JPEG, PNG, TIFF, BMP, WebP, PDF)"
        )
    if kind == "pdf":
        return render_pdf(data, path)
    buffer = np.frombuffer(data, np.uint8)
    if kind == "tiff":
        ok, frames = cv2.imdecodemulti(buffer, cv2.IMREAD_UNCHANGED)
        images = list(frames) if ok else []
    elif kind == "jpeg":
        # Colour mode applies the EXIF orientation that phones write; JPEG has no alpha.
        images = [cv2.imdecode(buffer, cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH)]
    else:
        images = [cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)]
    if not images or any(image is None or image.size == 0 for image in images):
        raise UndecodableImage(f"{path}: cannot decode {kind.upper()} (truncated or corrupt)")
    return [(number, to_grey(image)) for number, image in enumerate(images, start=1)]


def render_pdf(data: bytes, path: Path, dpi: int = PDF_DPI) -> list[tuple[int, np.ndarray]]:
    """Render every page of a PDF to grey at ``dpi``.

    pypdfium2 is imported here, not at start-up: most batches hold no PDF at all.
    """
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        reason = str(exc).split(":", 1)[-1].strip() or "damaged"
        raise UndecodableImage(f"{path}: cannot open PDF ({reason})") from None
    try:
        if len(document) == 0:
            raise UndecodableImage(f"{path}: PDF has no pages")
        pages = []
        for number, page in enumerate(document, start=1):
            bitmap = page.render(scale=dpi / 72, grayscale=True)
            image = bitmap.to_numpy()
            pages.append((number, to_grey(image)))
        return pages
    finally:
        document.close()


def to_grey(image: np.ndarray) -> np.ndarray:
    """Any image array (grey, BGR or BGRA; bool, integer or float) -> uint8 grey.

    Transparent areas are taken as white paper.
    """
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise InputError(f"expected a grey, BGR or BGRA image, got shape {image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise InputError(f"empty image of shape {image.shape}")
    image = to_uint8(image)
    if image.ndim == 3 and image.shape[2] == 4:
        alpha = image[:, :, 3:4].astype(np.float32) / 255.0
        image = (image[:, :, :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return np.ascontiguousarray(image)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Scale any pixel type to uint8: 16-bit by its top byte, floats from [0, 1] or [0, 255]."""
    if image.dtype == np.uint8:
        return image
    if image.dtype == bool:
        return image.astype(np.uint8) * 255
    if image.dtype == np.uint16:
        return (image >> 8).astype(np.uint8)
    if image.dtype.kind in "iu":
        return np.clip(image, 0, 255).astype(np.uint8)
    if image.dtype.kind == "f":
        values = np.nan_to_num(image.astype(np.float32), nan=1.0, posinf=1.0, neginf=0.0)
        if values.size and float(values.max()) <= 1.0:
            values = values * 255.0
        return np.clip(values, 0, 255).astype(np.uint8)
    raise InputError(f"unsupported pixel type {image.dtype}")


@dataclass(frozen=True)
class UnreadableSource:
    """A file that gave no pages, and why."""

    source: str
    error: InputError


def iter_pages(paths: Iterable[str | os.PathLike]) -> Iterator[PageImage | UnreadableSource]:
    """Every page of every input in order; a file that cannot be read yields its error."""
    for path in list_inputs(paths):
        try:
            yield from read_pages(path)
        except InputError as exc:
            yield UnreadableSource(str(path), exc)

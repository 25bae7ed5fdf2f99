"""Files, folders, glob patterns and arrays -> grey page images.

Everything the rest of the pipeline sees is a ``PageImage``: a uint8 grey array, dark ink on
light paper, with the file and page number it came from. A file's content, not its name,
decides how it is decoded, and the page is turned the way a viewer shows it (EXIF
orientation): what scanners and phones write reads right, be it 16-bit, bilevel (fax
TIFFs), CMYK JPEG, or RGBA with transparent paper (taken as white).
"""

from __future__ import annotations

import glob
import os
import stat
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from notes_ocr.errors import InputError, UndecodableImage, UnreadableFile

# What a folder walk picks up by name alone; a file named on the command line is read
# whatever its name, and a folder's other files are read when their content is an image.
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
SNIFF_BYTES = 16  # enough for every signature above and WebP's
MULTI_PAGE = frozenset({"tiff", "pdf"})
EXIF_ORIENTATION_TAG = 0x0112

# pdfium is not thread-safe: one thread at a time may use it (pages are read again in
# threads to annotate them).
PDFIUM_LOCK = threading.RLock()


def _new_pdfium_lock() -> None:
    global PDFIUM_LOCK
    PDFIUM_LOCK = threading.RLock()


if hasattr(os, "register_at_fork"):
    # A worker forked while another thread held the lock would wait for it forever.
    os.register_at_fork(after_in_child=_new_pdfium_lock)


@dataclass(frozen=True)
class PageImage:
    source: str  # the path as the user gave it, or "<array>"
    page: int  # 1-based within the file
    image: np.ndarray  # (H, W) uint8 grey


# --- finding the files ---------------------------------------------------------------------


def list_inputs(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Expand the user's paths into the files to read, in order.

    - A file is kept as given, whatever its name: its content decides the format.
    - A folder is walked recursively in sorted order, following links to folders but
      entering each folder once, so that a link loop ends. It contributes the files named
      like images (`IMAGE_SUFFIXES`) and the others whose content is one; pipes, sockets
      and devices are passed over, since reading one could block forever.
    - A path that does not exist but holds ``*``, ``?`` or ``[...]`` is a glob pattern
      (``**`` spans folders): its matches in sorted order, each taken as above.

    What cannot be listed or read (a folder without permission, a broken link named like
    an image, a path or pattern that names nothing) is kept, so that reading it reports why
    in its own record.
    """
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            out.extend(walk_folder(path))
        elif not path.exists() and not path.is_symlink() and glob.has_magic(str(raw)):
            matches = glob.glob(str(raw), recursive=True)
            # A file can match both itself and, with "**", a folder it is in.
            found = sorted({p for match in matches for p in expand_match(Path(match))})
            out.extend(found or [path])
        else:
            out.append(path)
    return out


def expand_match(path: Path) -> list[Path]:
    """The files a glob match stands for: a folder's walk, or the file if it is wanted."""
    if path.is_dir():
        return walk_folder(path)
    return [path] if is_page_file(path) else []


def walk_folder(folder: Path) -> list[Path]:
    """The page files under ``folder``, sorted; folders that cannot be listed included."""
    found: list[Path] = []
    seen: set[tuple[int, int]] = set()

    def cannot_list(error: OSError) -> None:
        found.append(Path(error.filename) if error.filename else folder)

    for root, folders, files in os.walk(folder, onerror=cannot_list, followlinks=True):
        try:
            info = os.stat(root)
        except OSError:
            folders.clear()
            continue
        if (info.st_dev, info.st_ino) in seen:  # reached again through a link
            folders.clear()
            continue
        seen.add((info.st_dev, info.st_ino))
        folders.sort()  # so that, of two ways to one folder, the first in order is kept
        found.extend(path for name in files if is_page_file(path := Path(root, name)))
    return sorted(found)


def is_page_file(path: Path) -> bool:
    """Whether a folder walk reads ``path``: named like an image, or holding one."""
    named = path.suffix.lower() in IMAGE_SUFFIXES
    try:
        mode = path.stat().st_mode
    except OSError:
        return named  # a broken link or a looping one: reading it says which
    if not stat.S_ISREG(mode):
        return False
    if named:
        return True
    try:
        with open(path, "rb") as file:
            return sniff_format(file.read(SNIFF_BYTES)) is not None
    except OSError:
        return False  # unreadable, and nothing says it is an image


# --- reading pages -------------------------------------------------------------------------


def sniff_format(data: bytes) -> str | None:
    """The image format named by a file's leading bytes, or None."""
    for magic, name in MAGIC.items():
        if data.startswith(magic):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def read_bytes(path: Path, size: int = -1) -> bytes:
    """A file's bytes (the first ``size`` of them, or all), or UnreadableFile saying why."""
    try:
        with open(path, "rb") as file:
            return file.read(size)
    except FileNotFoundError:
        if path.is_symlink():
            raise UnreadableFile(f"{path}: broken link to {os.readlink(path)}") from None
        if glob.has_magic(str(path)):
            raise UnreadableFile(f"{path}: no file matches this pattern") from None
        raise UnreadableFile(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UnreadableFile(f"{path}: is a folder") from None
    except PermissionError:
        what = "folder cannot be listed" if path.is_dir() else "permission denied"
        raise UnreadableFile(f"{path}: {what}") from None
    except OSError as exc:
        raise UnreadableFile(f"{path}: cannot read ({exc.strerror or exc})") from None


def file_format(data: bytes, path: Path) -> str:
    """The format of a file from its leading bytes, or UndecodableImage saying why not."""
    if not data:
        raise UndecodableImage(f"{path}: empty file")
    kind = sniff_format(data)
    if kind is None:
        raise UndecodableImage(
            f"{path}: not a supported image or PDF (JPEG, PNG, TIFF, BMP, WebP, PDF)"
        )
    return kind


def count_pages(path: str | os.PathLike) -> int:
    """How many pages a file holds, from as little of it as tells: PDFs and TIFFs may
    hold several, other images one.

    Raises UnreadableFile or UndecodableImage when that much already shows the file cannot
    be read; a file whose pages cannot be counted counts as one, and reading it says why.
    """
    path = Path(path)
    kind = file_format(read_bytes(path, SNIFF_BYTES), path)
    if kind == "pdf":
        with PDFIUM_LOCK:
            document = open_pdf(path, path)
            try:
                return len(document)
            finally:
                document.close()
    if kind == "tiff":
        return max(1, cv2.imcount(str(path), cv2.IMREAD_UNCHANGED))
    return 1


def read_pages(path: str | os.PathLike) -> list[PageImage]:
    """Read every page of an image file (several for a multi-page TIFF or PDF) as grey.

    Raises UnreadableFile or UndecodableImage with a one-line reason.
    """
    path = Path(path)
    return [PageImage(str(path), n, image) for n, image in decode(read_bytes(path), path)]


def read_page(path: str | os.PathLike, number: int) -> PageImage:
    """Read page ``number`` (from 1) of an image file as grey, decoding only that page.

    Raises UnreadableFile or UndecodableImage with a one-line reason.
    """
    path = Path(path)
    ((_, image),) = decode(read_bytes(path), path, number)
    return PageImage(str(path), number, image)


def decode(data: bytes, path: Path, number: int | None = None) -> list[tuple[int, np.ndarray]]:
    """Decode image bytes into (page number, grey image) pairs: every page, or ``number``."""
    kind = file_format(data, path)
    if kind == "pdf":
        return render_pdf(data, path, number=number)
    if number is not None and (number < 1 or (number > 1 and kind not in MULTI_PAGE)):
        raise UndecodableImage(f"{path}: has no page {number}")
    buffer = np.frombuffer(data, np.uint8)
    what = kind.upper()
    if kind == "tiff":
        # OpenCV turns TIFF pages by their Orientation tag in every mode.
        if number is None:
            ok, frames = cv2.imdecodemulti(buffer, cv2.IMREAD_UNCHANGED)
        else:
            pages = (number - 1, number)
            ok, frames = cv2.imdecodemulti(buffer, cv2.IMREAD_UNCHANGED, range=pages)
            what = f"page {number} of TIFF" if number > 1 else what
        images = list(frames) if ok else []
    elif kind == "jpeg":
        # Grey mode applies the EXIF orientation that phones write and converts CMYK, and
        # takes the luma the file stores instead of building colour and converting it back:
        # about three times as fast. JPEG has no alpha to lose.
        images = [cv2.imdecode(buffer, cv2.IMREAD_GRAYSCALE)]
    else:
        # Unchanged keeps the alpha channel, but then OpenCV leaves orientation to us.
        image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
        if image is not None:
            image = apply_orientation(image, exif_orientation(data, kind))
        images = [image]
    if not images or any(image is None or image.size == 0 for image in images):
        raise UndecodableImage(f"{path}: cannot decode {what} (truncated or corrupt)")
    return [(n, to_grey(image)) for n, image in enumerate(images, start=number or 1)]


def open_pdf(source: bytes | Path, path: Path):  # -> pypdfium2.PdfDocument
    """Open a PDF (its bytes or its file) with pypdfium2, or UndecodableImage saying why.

    pypdfium2 is imported here, not at start-up: most batches hold no PDF at all.
    """
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(source)
    except pdfium.PdfiumError as exc:
        reason = str(exc).split(":", 1)[-1].strip() or "damaged"
        raise UndecodableImage(f"{path}: cannot open PDF ({reason})") from None
    if len(document) == 0:
        document.close()
        raise UndecodableImage(f"{path}: PDF has no pages")
    return document


def render_pdf(
    data: bytes, path: Path, dpi: int = PDF_DPI, number: int | None = None
) -> list[tuple[int, np.ndarray]]:
    """Render every page of a PDF, or page ``number``, to grey at ``dpi``."""
    with PDFIUM_LOCK:
        document = open_pdf(data, path)
        try:
            if number is None:
                numbers = range(1, len(document) + 1)
            elif 1 <= number <= len(document):
                numbers = range(number, number + 1)
            else:
                raise UndecodableImage(f"{path}: has no page {number} (PDF of {len(document)})")
            pages = []
            for n in numbers:
                bitmap = document[n - 1].render(scale=dpi / 72, grayscale=True)
                pages.append((n, to_grey(bitmap.to_numpy())))
            return pages
        finally:
            document.close()


# --- EXIF orientation of PNG and WebP ------------------------------------------------------


def exif_orientation(data: bytes, kind: str) -> int:
    """The EXIF Orientation (1-8; 1 upright) of a PNG or WebP file's bytes, 1 if none.

    OpenCV applies it to JPEG and TIFF itself, but not to PNG or WebP read with their
    alpha channel.
    """
    exif = png_exif(data) if kind == "png" else webp_exif(data) if kind == "webp" else b""
    return orientation_of(exif)


def png_exif(data: bytes) -> bytes:
    """The payload of a PNG's eXIf chunk, or b"" (it must come before the image data)."""
    offset = 8
    while offset + 8 <= len(data):
        length = int.from_bytes(data[offset : offset + 4], "big")
        name = data[offset + 4 : offset + 8]
        if name == b"eXIf":
            return data[offset + 8 : offset + 8 + length]
        if name in (b"IDAT", b"IEND"):
            break
        offset += 12 + length
    return b""


def webp_exif(data: bytes) -> bytes:
    """The payload of a WebP's EXIF chunk, or b""."""
    offset = 12
    while offset + 8 <= len(data):
        name = data[offset : offset + 4]
        length = int.from_bytes(data[offset + 4 : offset + 8], "little")
        if name == b"EXIF":
            return data[offset + 8 : offset + 8 + length]
        offset += 8 + length + (length & 1)
    return b""


def orientation_of(exif: bytes) -> int:
    """The Orientation tag of an EXIF block (a TIFF header and its first IFD), 1 if none."""
    exif = exif.removeprefix(b"Exif\x00\x00")
    order = {b"II": "little", b"MM": "big"}.get(exif[:2])
    if order is None or len(exif) < 8:
        return 1

    def number(at: int, size: int) -> int:
        return int.from_bytes(exif[at : at + size], order)

    ifd = number(4, 4)
    for entry in range(number(ifd, 2) if ifd + 2 <= len(exif) else 0):
        at = ifd + 2 + 12 * entry
        if at + 12 > len(exif):
            break
        if number(at, 2) == EXIF_ORIENTATION_TAG:
            value = number(at + 8, 2)
            return value if 1 <= value <= 8 else 1
    return 1


def apply_orientation(image: np.ndarray, orientation: int) -> np.ndarray:
    """The image turned upright from EXIF ``orientation`` (1-8), as viewers show it."""
    if orientation in (5, 6, 7, 8):
        image = cv2.transpose(image)  # 5: transposed; the others are that plus a flip
        flip = {6: 1, 7: -1, 8: 0}.get(orientation)
    else:
        flip = {2: 1, 3: -1, 4: 0}.get(orientation)
    return image if flip is None else cv2.flip(image, flip)


# --- pixels --------------------------------------------------------------------------------


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

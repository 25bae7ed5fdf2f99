"""Files, folders, glob patterns and arrays -> grey page images.

Everything the rest of the pipeline sees is a ``PageImage``: a uint8 grey array, dark ink on
light paper, with the file and page number it came from. A file's content, not its name,
decides how it is decoded, and the page is turned the way a viewer shows it (EXIF
orientation): what scanners and phones write reads right, be it 16-bit, bilevel (fax
TIFFs), CMYK JPEG, or RGBA with transparent paper (taken as white).
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import stat
import struct
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from notes_ocr.errors import ImageTooLarge, InputError, UndecodableImage, UnreadableFile
from notes_ocr.options import MAX_PIXELS

# What a folder walk picks up by name alone; a file named on the command line is read
# whatever its name, and a folder's other files are read when their content is an image.
IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".tif", ".tiff", ".bmp", ".dib", ".webp", ".pdf"}
)
# PDF pages are rendered at the resolution of a good scan.
PDF_DPI = 300
# A TIFF's chain of pages is followed this far at most (a crafted file may loop or go on).
MAX_TIFF_PAGES = 100_000

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


def open_file(path: Path):  # -> BinaryIO
    """``path`` opened for reading bytes, or UnreadableFile saying why not."""
    try:
        return open(path, "rb")
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


def read_bytes(path: Path, size: int = -1) -> bytes:
    """A file's bytes (the first ``size`` of them, or all), or UnreadableFile saying why."""
    with open_file(path) as file:
        try:
            return file.read(size)
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


def count_pages(path: str | os.PathLike, data: bytes | None = None) -> int:
    """How many pages a file holds, from as little of it as tells: PDFs and TIFFs may
    hold several, other images one. ``data`` is the file's bytes, when they are read already.

    Raises UnreadableFile or UndecodableImage when that much already shows the file cannot
    be read; a file whose pages cannot be counted counts as one, and reading it says why.
    """
    path = Path(path)
    kind = file_format(read_bytes(path, SNIFF_BYTES) if data is None else data, path)
    if kind not in MULTI_PAGE:
        return 1
    # From the open file, not its name: pdfium takes names as UTF-8, which not every name
    # is, and OpenCV's imcount crashes the process on such a name. Only what tells is read.
    with open_file(path) if data is None else contextlib.nullcontext(data) as source:
        if kind == "pdf":
            with PDFIUM_LOCK:
                document = open_pdf(source, path)
                try:
                    return len(document)
                finally:
                    document.close()
        read = bytes_reader(data) if data is not None else file_reader(source)
        return max(1, len(tiff_sizes(read)))


def read_pages(path: str | os.PathLike, max_pixels: int | None = MAX_PIXELS) -> list[PageImage]:
    """Read every page of an image file (several for a multi-page TIFF or PDF) as grey.

    Raises UnreadableFile, UndecodableImage, or ImageTooLarge for a page of more than
    ``max_pixels`` pixels (None: no limit), with a one-line reason.
    """
    path = Path(path)
    pages = decode(read_bytes(path), path, max_pixels=max_pixels)
    return [PageImage(str(path), n, image) for n, image in pages]


def read_page(
    path: str | os.PathLike, number: int, max_pixels: int | None = MAX_PIXELS
) -> PageImage:
    """Read page ``number`` (from 1) of an image file as grey, decoding only that page.

    Raises UnreadableFile, UndecodableImage, or ImageTooLarge for a page of more than
    ``max_pixels`` pixels (None: no limit), with a one-line reason.
    """
    path = Path(path)
    ((_, image),) = decode(read_bytes(path), path, number, max_pixels)
    return PageImage(str(path), number, image)


def decode(
    data: bytes, path: Path, number: int | None = None, max_pixels: int | None = MAX_PIXELS
) -> list[tuple[int, np.ndarray]]:
    """Decode image bytes into (page number, grey image) pairs: every page, or ``number``.

    The page's size is checked against ``max_pixels`` from the header first, so that a
    decompression bomb is refused without being decoded. Only the project's own errors
    (InputError) come out, whatever the bytes.
    """
    kind = file_format(data, path)
    if kind == "pdf":
        return render_pdf(data, path, number=number, max_pixels=max_pixels)
    if number is not None and (number < 1 or (number > 1 and kind not in MULTI_PAGE)):
        raise UndecodableImage(f"{path}: has no page {number}")
    what = kind.upper() if number is None or number == 1 else f"page {number} of {kind.upper()}"
    for page, size in enumerate(declared_sizes(data, kind, number), start=number or 1):
        check_pixels(path, page, size, max_pixels)
    try:
        images = decode_pixels(data, kind, number)
    except cv2.error:
        images = []
    if not images or any(image is None or image.size == 0 for image in images):
        raise UndecodableImage(f"{path}: cannot decode {what} (truncated or corrupt)")
    pages = []
    for page, image in enumerate(images, start=number or 1):
        # Again from the decoded page, for a header the checks above could not read.
        check_pixels(path, page, (image.shape[1], image.shape[0]), max_pixels)
        pages.append((page, to_grey(image)))
    return pages


def quiet_opencv() -> None:
    """Keep OpenCV's own messages about damaged files off stderr: a page's record says it
    in one line. OpenCV's log level is the whole process's: the command and the batch's
    workers set it, the library leaves it alone."""
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


def decode_pixels(data: bytes, kind: str, number: int | None) -> list[np.ndarray | None]:
    """The pages of image bytes as OpenCV decodes them (None for a page it cannot)."""
    buffer = np.frombuffer(data, np.uint8)
    if kind == "tiff":
        # OpenCV turns TIFF pages by their Orientation tag in every mode.
        if number is None:
            ok, frames = cv2.imdecodemulti(buffer, cv2.IMREAD_UNCHANGED)
        else:
            pages = (number - 1, number)
            ok, frames = cv2.imdecodemulti(buffer, cv2.IMREAD_UNCHANGED, range=pages)
        return list(frames) if ok else []
    if kind == "jpeg":
        # Grey mode applies the EXIF orientation that phones write and converts CMYK, and
        # takes the luma the file stores instead of building colour and converting it back:
        # about three times as fast. JPEG has no alpha to lose.
        return [cv2.imdecode(buffer, cv2.IMREAD_GRAYSCALE)]
    # Unchanged keeps the alpha channel, but then OpenCV leaves orientation to us.
    image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    if image is not None:
        image = apply_orientation(image, exif_orientation(data, kind))
    return [image]


def check_pixels(
    path: Path, page: int, size: tuple[int, int] | None, max_pixels: int | None
) -> None:
    """ImageTooLarge if a page of ``size`` (width, height; None: unknown) is over the limit."""
    if max_pixels is None or size is None:
        return
    width, height = size
    if width * height > max_pixels:
        which = f"page {page} is" if page > 1 else "page is"
        raise ImageTooLarge(
            f"{path}: {which} {width} x {height} pixels ({width * height / 1e6:.0f} "
            f"megapixels), over the limit of {max_pixels / 1e6:g} megapixels (--max-pixels)"
        )


def open_pdf(source, path: Path):  # bytes or a binary file -> pypdfium2.PdfDocument
    """Open a PDF (its bytes or its open file) with pypdfium2, or UndecodableImage saying why.

    pypdfium2 is imported here, not at start-up: most batches hold no PDF at all.
    """
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(source)
    except pdfium.PdfiumError as exc:
        raise UndecodableImage(f"{path}: {pdf_failure(exc)}") from None
    if len(document) == 0:
        document.close()
        raise UndecodableImage(f"{path}: PDF has no pages")
    return document


# pdfium's error code for a document that needs a password (FPDF_ERR_PASSWORD).
PDF_PASSWORD_ERROR = 4


def pdf_failure(exc: Exception) -> str:
    """Why pdfium could not open a PDF, in words: "Failed to load document (PDFium: Data
    format error)." says "cannot open PDF (data format error)"."""
    text = str(exc)
    if getattr(exc, "err_code", None) == PDF_PASSWORD_ERROR or "password" in text.lower():
        return "PDF is encrypted (it needs a password to open)"
    found = re.search(r"PDFium: ([^)]*)", text)
    reason = found.group(1).strip() if found else ""
    return f"cannot open PDF ({reason.lower() or 'damaged'})"


def render_pdf(
    data: bytes,
    path: Path,
    dpi: int = PDF_DPI,
    number: int | None = None,
    max_pixels: int | None = MAX_PIXELS,
) -> list[tuple[int, np.ndarray]]:
    """Render every page of a PDF, or page ``number``, to grey at ``dpi``.

    A page is measured before it is rendered: one over ``max_pixels`` at ``dpi`` is refused.
    """
    import pypdfium2 as pdfium

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
                try:
                    page = document[n - 1]
                    width, height = page.get_size()  # in points, 72 to the inch
                    size = (round(width * dpi / 72), round(height * dpi / 72))
                    check_pixels(path, n, size, max_pixels)
                    bitmap = page.render(scale=dpi / 72, grayscale=True)
                    pages.append((n, to_grey(bitmap.to_numpy())))
                except (pdfium.PdfiumError, ValueError) as exc:
                    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "damaged"
                    raise UndecodableImage(f"{path}: cannot render page {n} ({reason})") from None
            return pages
        finally:
            document.close()


# --- page sizes from the header, before decoding -------------------------------------------

# Read by hand, a few fields each: Pillow was tried (it reads these headers lazily), but it
# refuses to measure pages past its own decompression-bomb limit, warns through the
# process-wide warning filters, lost the later pages of a TIFF whose first page it cannot
# read, and counted a TIFF's pages nine times slower, for no fewer lines.

# JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic): they hold the size.
JPEG_FRAMES = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD,
                         0xCE, 0xCF})
# JPEG markers that stand alone, with no length after them.
JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
TIFF_WIDTH, TIFF_HEIGHT = 256, 257  # the ImageWidth and ImageLength tags
TIFF_SHORT, TIFF_LONG = 3, 4

Size = tuple[int, int]  # width, height


def declared_sizes(data: bytes, kind: str, number: int | None = None) -> list[Size | None]:
    """The (width, height) of each page to decode, ``number`` or every one, as the header
    declares them; None for a page whose header does not say (its decoder will find out)."""
    if kind == "tiff":
        sizes = tiff_sizes(bytes_reader(data))
        if number is None:
            return sizes
        return sizes[number - 1 : number] or [None]
    read = {"png": png_size, "jpeg": jpeg_size, "bmp": bmp_size, "webp": webp_size}.get(kind)
    return [read(data) if read else None]


def png_size(data: bytes) -> Size | None:
    """From the IHDR chunk, which must come first."""
    if data[12:16] != b"IHDR" or len(data) < 24:
        return None
    return struct.unpack(">II", data[16:24])


def jpeg_size(data: bytes) -> Size | None:
    """From the first frame header, walking the markers before it (an EXIF thumbnail is
    inside a marker segment, so its own frame header is stepped over)."""
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # a fill byte
            at += 1
        elif marker in JPEG_STANDALONE:
            at += 2
        elif marker in (0xD9, 0xDA):  # the end, or image data, before any frame header
            return None
        elif marker in JPEG_FRAMES:
            if at + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[at + 5 : at + 9])
            return width, height
        else:
            at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
    return None


def bmp_size(data: bytes) -> Size | None:
    """From the info header: 16-bit sizes in the old OS/2 one, signed 32-bit in the others
    (a negative height is a top-down image)."""
    if len(data) < 26:
        return None
    if int.from_bytes(data[14:18], "little") == 12:
        return struct.unpack("<HH", data[18:22])
    width, height = struct.unpack("<ii", data[18:26])
    return abs(width), abs(height)


def webp_size(data: bytes) -> Size | None:
    """From the first chunk: lossy (VP8), lossless (VP8L) or extended (VP8X)."""
    chunk = data[12:16]
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a" and len(data) >= 30:
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(data) >= 30:
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    return None


Reader = Callable[[int, int], bytes]  # (offset, size) -> at most size bytes from offset


def bytes_reader(data: bytes) -> Reader:
    return lambda offset, size: data[offset : offset + size]


def file_reader(file) -> Reader:  # an open binary file
    def read(offset: int, size: int) -> bytes:
        file.seek(offset)
        return file.read(size)

    return read


def tiff_sizes(read: Reader) -> list[Size | None]:
    """The size of each page of a TIFF, following its chain of image directories (IFDs);
    None for a page whose directory does not give both. A chain that loops or breaks off
    ends there."""
    header = read(0, 8)
    order = "little" if header[:2] == b"II" else "big"

    def number(raw: bytes) -> int:
        return int.from_bytes(raw, order)

    sizes: list[Size | None] = []
    seen: set[int] = set()
    offset = number(header[4:8]) if len(header) == 8 else 0
    while offset and offset not in seen and len(sizes) < MAX_TIFF_PAGES:
        seen.add(offset)
        count = number(read(offset, 2))
        entries = read(offset + 2, 12 * count + 4)
        if count == 0 or len(entries) < 12 * count:
            break
        found = {}
        for at in range(0, 12 * count, 12):
            tag, kind = number(entries[at : at + 2]), number(entries[at + 2 : at + 4])
            if tag in (TIFF_WIDTH, TIFF_HEIGHT) and kind in (TIFF_SHORT, TIFF_LONG):
                found[tag] = number(entries[at + 8 : at + (10 if kind == TIFF_SHORT else 12)])
        both = TIFF_WIDTH in found and TIFF_HEIGHT in found
        sizes.append((found[TIFF_WIDTH], found[TIFF_HEIGHT]) if both else None)
        offset = number(entries[12 * count : 12 * count + 4])
    return sizes


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

    Transparent areas are taken as white paper. Anything else (other shapes, empty, complex
    or object pixels, not an array at all) is an InputError.
    """
    try:
        image = np.asarray(image)
    except (ValueError, TypeError) as exc:  # ragged nested lists, objects numpy refuses
        raise InputError(f"not an image array ({exc})") from None
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
    """A file, or one page of it, that cannot be read, and why."""

    source: str
    error: InputError
    page: int = 1


def iter_pages(
    paths: Iterable[str | os.PathLike], max_pixels: int | None = MAX_PIXELS
) -> Iterator[PageImage | UnreadableSource]:
    """Every page of every input in order; a file or page that cannot be read yields its
    error. A multi-page file is read once and decoded a page at a time, so that only one
    page of it is in memory."""
    for path in list_inputs(paths):
        try:
            data = read_bytes(path)
            count = count_pages(path, data)
        except InputError as exc:
            yield UnreadableSource(str(path), exc)
            continue
        for number in range(1, count + 1):
            try:
                ((_, image),) = decode(data, path, number, max_pixels)
            except InputError as exc:
                yield UnreadableSource(str(path), exc, number)
                continue
            yield PageImage(str(path), number, image)

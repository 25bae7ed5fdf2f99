"""Reading pages: every format, colour or grey, multi-page TIFF, content over file name."""

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import make_pdf

from notes_ocr.errors import UndecodableImage, UnreadableFile
from notes_ocr.sources import (
    count_pages,
    declared_sizes,
    list_inputs,
    read_page,
    read_pages,
    to_grey,
)

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "plain_black.png"


@pytest.fixture(scope="module")
def page_bgr() -> np.ndarray:
    return cv2.imread(str(EXAMPLE))[:600, :500]


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".tif", ".bmp", ".webp"])
@pytest.mark.parametrize("grey", [False, True], ids=["colour", "grey"])
def test_every_format_reads_as_the_same_grey_page(tmp_path, page_bgr, suffix, grey):
    image = cv2.cvtColor(page_bgr, cv2.COLOR_BGR2GRAY) if grey else page_bgr
    path = tmp_path / f"page{suffix}"
    assert cv2.imwrite(str(path), image)
    (page,) = read_pages(path)
    expected = cv2.cvtColor(page_bgr, cv2.COLOR_BGR2GRAY)
    assert page.image.dtype == np.uint8 and page.image.shape == expected.shape
    assert np.abs(page.image.astype(int) - expected).mean() < 3  # JPEG/WebP are lossy


def test_multi_page_tiff_gives_numbered_pages(tmp_path, page_bgr):
    path = tmp_path / "scan.tif"
    assert cv2.imwritemulti(str(path), [page_bgr, 255 - page_bgr, page_bgr])
    pages = read_pages(path)
    assert [page.page for page in pages] == [1, 2, 3]
    assert pages[0].image.mean() > pages[1].image.mean()


def test_content_decides_the_format_not_the_name(tmp_path, page_bgr):
    path = tmp_path / "actually_a_png.jpg"
    path.write_bytes(cv2.imencode(".png", page_bgr)[1].tobytes())
    (page,) = read_pages(path)
    assert page.image.shape == page_bgr.shape[:2]


def test_transparent_paper_is_white_and_sixteen_bit_is_scaled():
    rgba = np.zeros((20, 20, 4), np.uint8)  # black, fully transparent
    rgba[5:10, 5:10] = (0, 0, 0, 255)  # one opaque black square of ink
    grey = to_grey(rgba)
    assert grey[0, 0] == 255 and grey[7, 7] == 0
    deep = np.full((4, 4), 65535, np.uint16)
    assert to_grey(deep).max() == 255


@pytest.mark.parametrize(
    ("content", "error", "reason"),
    [
        (b"", UndecodableImage, "empty file"),
        (b"<html>not an image</html>", UndecodableImage, "not a supported image"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 40, UndecodableImage, "truncated or corrupt"),
    ],
)
def test_bad_files_raise_one_clear_line(tmp_path, content, error, reason):
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(error) as info:
        read_pages(path)
    message = str(info.value)
    assert str(path) in message and reason in message and "\n" not in message


def test_missing_file_and_folder_as_file(tmp_path):
    with pytest.raises(UnreadableFile, match="no such file"):
        read_pages(tmp_path / "missing.png")
    with pytest.raises(UnreadableFile, match="is a folder"):
        read_pages(tmp_path)


def test_folder_walk_is_recursive_sorted_and_skips_other_files(tmp_path):
    for name in ["b.png", "a/z.JPG", "a/y.txt", "c.tiff", "notes.pdf.txt"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    found = [p.relative_to(tmp_path).as_posix() for p in list_inputs([tmp_path])]
    assert found == ["a/z.JPG", "b.png", "c.tiff"]


def test_pdf_pages_render_in_order(tmp_path, page_bgr):
    path = tmp_path / "notes.pdf"
    make_pdf(path, [page_bgr, 255 - page_bgr])
    pages = read_pages(path)
    assert [page.page for page in pages] == [1, 2]
    # 500 px at 150 dpi rendered at 300 dpi: twice the size.
    assert abs(pages[0].image.shape[1] - 2 * page_bgr.shape[1]) <= 2
    assert pages[0].image.mean() > pages[1].image.mean()


def test_damaged_pdf_is_one_clear_line(tmp_path, page_bgr):
    path = tmp_path / "broken.pdf"
    make_pdf(path, [page_bgr])
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(UndecodableImage, match="cannot open PDF") as info:
        read_pages(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


# --- what scanners and phones write, made by Pillow as real files -------------------------


@pytest.fixture(scope="module")
def sheet() -> np.ndarray:
    """A small grey page, no two corners alike, so any turn or flip shows."""
    page = np.full((60, 90), 250, np.uint8)
    page[5:20, 5:40] = 0
    page[40:55, 70:85] = 90
    return page


EXIF_ORIENTATION = 0x0112
# The stored pixels of EXIF orientation n, for the upright page: the inverse of what
# viewers apply (Pillow's ImageOps.exif_transpose, checked in the test).
STORED = {
    1: lambda a: a,
    2: np.fliplr,
    3: lambda a: np.rot90(a, 2),
    4: np.flipud,
    5: lambda a: a.swapaxes(0, 1),
    6: lambda a: np.rot90(a, 1),
    7: lambda a: np.rot90(a, 2).swapaxes(0, 1),
    8: lambda a: np.rot90(a, -1),
}


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF"])
def test_exif_orientation_is_applied(tmp_path, sheet, fmt, orientation):
    from PIL import Image, ImageOps

    upright = cv2.cvtColor(sheet, cv2.COLOR_GRAY2RGB)  # phones and scanners write colour
    stored = Image.fromarray(np.ascontiguousarray(STORED[orientation](upright)))
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = orientation
    path = tmp_path / f"photo.{fmt.lower()}"
    options = {"quality": 95} if fmt == "JPEG" else {"lossless": True} if fmt == "WEBP" else {}
    stored.save(path, fmt, exif=exif.tobytes(), **options)
    with Image.open(path) as opened:  # what a viewer shows
        shown = np.asarray(ImageOps.exif_transpose(opened).convert("L"))
    assert np.abs(shown.astype(int) - sheet).mean() < 3
    (page,) = read_pages(path)
    assert page.image.shape == sheet.shape
    assert np.abs(page.image.astype(int) - sheet).mean() < 3


def test_sixteen_bit_grey_and_colour(tmp_path, sheet):
    from PIL import Image

    deep = sheet.astype(np.uint16) * 257
    Image.fromarray(deep).save(tmp_path / "grey16.png")  # Pillow: mode I;16
    assert cv2.imwrite(str(tmp_path / "colour16.tif"), cv2.merge([deep, deep, deep]))
    for name in ("grey16.png", "colour16.tif"):
        (page,) = read_pages(tmp_path / name)
        assert page.image.dtype == np.uint8
        assert np.array_equal(page.image, sheet), name


@pytest.mark.parametrize("photometric", [0, 1], ids=["white-is-zero", "black-is-zero"])
@pytest.mark.parametrize("compression", ["group4", "group3", "packbits"])
def test_bilevel_fax_tiff(tmp_path, sheet, compression, photometric):
    from PIL import Image

    ink = sheet < 128
    path = tmp_path / "fax.tif"
    Image.fromarray(~ink).convert("1").save(
        path, compression=compression, tiffinfo={262: photometric}
    )
    with Image.open(path) as opened:
        assert opened.tag_v2[262] == photometric  # the file really is written that way
    (page,) = read_pages(path)
    assert np.array_equal(page.image < 128, ink)  # ink dark, paper light, either way


def test_cmyk_jpeg(tmp_path, sheet):
    from PIL import Image

    path = tmp_path / "print.jpg"
    Image.fromarray(sheet).convert("CMYK").save(path, quality=95)  # Adobe-style, as Photoshop
    with Image.open(path) as opened:
        assert opened.mode == "CMYK"
    (page,) = read_pages(path)
    assert np.abs(page.image.astype(int) - sheet).mean() < 3


@pytest.mark.parametrize(
    ("fmt", "mode"), [("png", "RGBA"), ("tiff", "RGBA"), ("webp", "RGBA"), ("png", "LA")]
)
def test_transparent_paper_is_white(tmp_path, sheet, fmt, mode):
    from PIL import Image

    ink = sheet < 128
    pixels = np.zeros((*sheet.shape, 4), np.uint8)  # black and fully transparent...
    pixels[ink] = (0, 0, 0, 255)  # ...but for opaque black ink
    image = Image.fromarray(pixels, "RGBA").convert(mode)
    path = tmp_path / f"ink.{fmt}"
    image.save(path, **({"lossless": True} if fmt == "webp" else {}))
    (page,) = read_pages(path)
    assert np.array_equal(page.image < 128, ink)
    assert page.image[~ink].min() == 255


def test_multi_page_tiff_of_mixed_pages_one_page_at_a_time(tmp_path, sheet):
    from PIL import Image

    path = tmp_path / "scan.tif"
    first = Image.fromarray(sheet)
    fax = Image.fromarray(sheet > 128).convert("1")
    colour = Image.fromarray(cv2.cvtColor(sheet, cv2.COLOR_GRAY2RGB))
    first.save(path, save_all=True, append_images=[fax, colour], compression="tiff_deflate")
    assert count_pages(path) == 3
    pages = read_pages(path)
    assert [page.page for page in pages] == [1, 2, 3]
    for page in pages:
        one = read_page(path, page.page)
        assert one.page == page.page and np.array_equal(one.image, page.image)
        assert np.array_equal(page.image < 128, sheet < 128)
    with pytest.raises(UndecodableImage, match="page 4"):
        read_page(path, 4)


def test_pdf_pages_counted_and_read_one_at_a_time(tmp_path, page_bgr):
    path = tmp_path / "notes.pdf"
    make_pdf(path, [page_bgr, 255 - page_bgr, page_bgr])
    assert count_pages(path) == 3
    second = read_page(path, 2)
    assert second.page == 2
    assert np.array_equal(second.image, read_pages(path)[1].image)
    with pytest.raises(UndecodableImage, match="no page 4"):
        read_page(path, 4)


def test_single_page_formats_count_one_and_bad_files_fail_early(tmp_path, page_bgr):
    assert cv2.imwrite(str(tmp_path / "page.png"), page_bgr)
    assert count_pages(tmp_path / "page.png") == 1
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(UndecodableImage, match="empty file"):
        count_pages(tmp_path / "empty.jpg")
    with pytest.raises(UnreadableFile, match="no such file"):
        count_pages(tmp_path / "missing.tif")
    with pytest.raises(UndecodableImage, match="no page 2"):
        read_page(tmp_path / "page.png", 2)


def tiff_directories(data: bytes) -> list[int]:
    """Where each page's directory (IFD) of a little-endian TIFF starts, in chain order."""
    offsets, offset = [], int.from_bytes(data[4:8], "little")
    while offset:
        offsets.append(offset)
        entries = int.from_bytes(data[offset : offset + 2], "little")
        offset = int.from_bytes(data[offset + 2 + 12 * entries : offset + 6 + 12 * entries],
                                "little")
    return offsets


def test_tiff_pages_are_counted_from_the_open_file_whatever_their_pixels(
    tmp_path, page_bgr, monkeypatch
):
    # Never cv2.imcount, which takes a name and crashes the process on one not UTF-8.
    monkeypatch.setattr(cv2, "imcount", None)
    colour = np.full((20, 50, 3), 0.5, np.float32)  # floating-point colour, as OpenCV writes
    ok, data = cv2.imencodemulti(".tif", [page_bgr, colour, page_bgr])
    assert ok
    path = tmp_path / "scan.tif"
    path.write_bytes(data.tobytes())
    assert count_pages(path) == 3
    height, width = page_bgr.shape[:2]
    assert declared_sizes(data.tobytes(), "tiff") == [(width, height), (50, 20), (width, height)]
    assert [page.image.shape for page in read_pages(path)] == [(height, width), (20, 50),
                                                               (height, width)]
    # A chain of pages that loops back to the first ends there.
    looped = bytearray(data.tobytes())
    last = tiff_directories(looped)[-1]
    at = last + 2 + 12 * int.from_bytes(looped[last : last + 2], "little")
    looped[at : at + 4] = looped[4:8]
    path.write_bytes(looped)
    assert count_pages(path) == 3


# --- finding the files -----------------------------------------------------------------------


def write_png(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(cv2.imencode(".png", np.full((8, 8), 255, np.uint8))[1].tobytes())


def relative(paths: list[Path], root: Path) -> list[str]:
    return [p.relative_to(root).as_posix() if p.is_relative_to(root) else str(p) for p in paths]


def test_folder_walk_reads_images_by_content_whatever_their_names(tmp_path):
    write_png(tmp_path / "scan_without_suffix")
    write_png(tmp_path / "photo.jpeg.download")
    (tmp_path / "notes.txt").write_text("not an image\n")
    (tmp_path / "broken.png").write_text("named like an image: its record will say why\n")
    found = relative(list_inputs([tmp_path]), tmp_path)
    assert found == ["broken.png", "photo.jpeg.download", "scan_without_suffix"]


def test_folder_walk_survives_link_loops_and_passes_over_pipes(tmp_path):
    write_png(tmp_path / "a" / "page.png")
    (tmp_path / "a" / "loop").symlink_to(tmp_path)  # a folder linking to its own ancestor
    (tmp_path / "b").symlink_to(tmp_path / "a")  # the same folder under a second name
    os.mkfifo(tmp_path / "a" / "pipe.png")  # reading it would block for ever
    (tmp_path / "gone.jpg").symlink_to(tmp_path / "nowhere.jpg")
    found = list_inputs([tmp_path])
    assert relative(found, tmp_path) == ["a/page.png", "gone.jpg"]
    with pytest.raises(UnreadableFile, match="broken link"):
        read_pages(tmp_path / "gone.jpg")


def test_folder_that_cannot_be_listed_is_kept_for_its_record(tmp_path, monkeypatch):
    write_png(tmp_path / "a" / "page.png")
    write_png(tmp_path / "locked" / "hidden.png")
    real_scandir = os.scandir

    def scandir(path):
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    assert relative(list_inputs([tmp_path]), tmp_path) == ["a/page.png", "locked"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads folders whatever their permissions")
def test_folder_without_permission_gets_a_clear_reason(tmp_path):
    write_png(tmp_path / "locked" / "hidden.png")
    (tmp_path / "locked").chmod(0)
    try:
        (found,) = list_inputs([tmp_path])
        with pytest.raises(UnreadableFile, match=r"cannot be listed|permission denied"):
            read_pages(found)
    finally:
        (tmp_path / "locked").chmod(0o755)


def test_glob_patterns_expand_in_sorted_order(tmp_path, monkeypatch):
    for name in ["b/2.png", "a/1.png", "a/deeper/3.png", "a/skip.txt"]:
        write_png(tmp_path / name) if name.endswith(".png") else (tmp_path / name).write_text("")
    monkeypatch.chdir(tmp_path)
    assert [p.as_posix() for p in list_inputs(["*/*.png"])] == ["a/1.png", "b/2.png"]
    assert [p.as_posix() for p in list_inputs(["a/**"])] == [
        "a/1.png", "a/deeper/3.png"
    ]
    (unmatched,) = list_inputs(["nothing/*.jpg"])
    with pytest.raises(UnreadableFile, match="no file matches"):
        read_pages(unmatched)

"""Reading pages: every format, colour or grey, multi-page TIFF, content over file name."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from notes_ocr.errors import UndecodableImage, UnreadableFile
from notes_ocr.sources import list_inputs, read_pages, to_grey

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


def make_pdf(path: Path, pages: list[np.ndarray]) -> None:
    """A PDF holding each image as a page, the way scanners save to PDF (via Pillow)."""
    from PIL import Image

    images = [Image.fromarray(cv2.cvtColor(page, cv2.COLOR_BGR2RGB)) for page in pages]
    images[0].save(path, save_all=True, append_images=images[1:], resolution=150)


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

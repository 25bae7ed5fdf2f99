"""Hostile inputs beside good pages: each gets its record and one line on stderr, the run
exits 1 with no traceback, and the good pages read exactly as they do alone."""

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import run_cli
from hostile_corpus import BOMB_SIDE, build_corpus, jpeg_bomb, png_bomb

import notes_ocr
from notes_ocr.cli import main
from notes_ocr.errors import ImageTooLarge
from notes_ocr.results import printable
from notes_ocr.sources import MAX_PIXELS, count_pages, declared_sizes, read_page

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
GOOD = ["plain_black.png", "ruled_blue.jpg"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """The corpus, with two good pages in a folder of their own."""
    root = tmp_path_factory.mktemp("hostile")
    entries = build_corpus(root / "corpus")
    (root / "good").mkdir()
    for name in GOOD:
        shutil.copy(EXAMPLES / name, root / "good" / name)
    return root, entries


def jsonl(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.decode("utf-8").splitlines()]


@pytest.fixture(scope="module")
def alone(corpus) -> list[dict]:
    """The good pages' records, scanned without the corpus."""
    root, _ = corpus
    done = run_cli("scan", "--format", "jsonl", *(str(root / "good" / n) for n in GOOD),
                   text=False)
    assert done.returncode == 0, done.stderr
    return jsonl(done.stdout)


def test_corpus_is_small_on_disk_and_the_encrypted_pdf_is_real(corpus):
    import pypdfium2 as pdfium

    root, _ = corpus
    files = [p for p in (root / "corpus").rglob("*") if p.is_file() and not p.is_symlink()]
    assert sum(p.stat().st_size for p in files) < 1_000_000
    assert (root / "corpus" / "bomb.png").stat().st_size < 4096
    with pytest.raises(pdfium.PdfiumError):
        pdfium.PdfDocument(root / "corpus" / "encrypted.pdf")
    with pdfium.PdfDocument(root / "corpus" / "encrypted.pdf", password="secret") as document:
        assert len(document) == 1


def test_mixed_batch_records_every_file_and_loses_no_good_page(corpus, alone, tmp_path):
    root, entries = corpus
    out = tmp_path / "out.jsonl"
    good = [str(root / "good" / name) for name in GOOD]
    done = run_cli("scan", "-o", str(out), good[0], str(root / "corpus"), good[1], text=False)

    assert done.returncode == 1
    stderr = done.stderr.decode("utf-8")
    assert "Traceback" not in stderr
    records = jsonl(out.read_bytes())
    assert [r["source"] for r in records] == [
        good[0], *(str(root / "corpus" / e.name) for e in entries), good[1]
    ]
    assert [records[0], records[-1]] == alone  # the good pages, exactly as alone
    failed = []
    for entry, record in zip(entries, records[1:-1], strict=True):
        error = record["error"]
        assert (error and error["type"]) == entry.error, (entry.name, error)
        if error:
            assert record["lines"] == [] and "\n" not in error["message"]
            failed.append(record)
        elif entry.digits is False:
            assert record["lines"] == [], entry.name  # blank, black, 1 pixel: no digits
    # One line on stderr for each failed file, naming it, then the summary; nothing else
    # (no libpng or libjpeg warnings, no traceback).
    *errors, summary = stderr.splitlines()
    assert errors == [f"notes-ocr: error: {printable(r['error']['message'])}" for r in failed]
    assert summary.startswith(f"notes-ocr: {len(records)} pages, ")
    assert f", {len(failed)} failed files, " in summary


def test_csv_text_report_and_drawings_of_the_corpus(corpus, tmp_path, capsys):
    root, entries = corpus
    report, drawn = tmp_path / "report.html", tmp_path / "drawn"
    args = ["scan", "--quiet", "--report", str(report), "--annotate", str(drawn)]
    assert main([*args, "--format", "csv", str(root / "corpus")]) == 1
    captured = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(captured.out)))
    sources = {row["source"] for row in rows}
    for entry in entries:
        name = printable(str(root / "corpus" / entry.name))
        assert name in sources or entry.digits is not True
    assert "Traceback" not in captured.err and "cannot write" not in captured.err
    page = report.read_text(encoding="utf-8")
    assert page.endswith("</html>\n") and "bomb.png" in page
    assert printable(os.fsdecode(b"caf\xe9.png")) in page  # escaped: the page is UTF-8
    # Every page read has its drawing, the one whose name is not UTF-8 included.
    for name in ["with space.png", os.fsdecode(b"caf\xe9.png"), "loop/inside.png"]:
        data = np.frombuffer((drawn / f"{name}-page1.jpg").read_bytes(), np.uint8)
        assert cv2.imdecode(data, cv2.IMREAD_COLOR) is not None, name  # imread: no such name
    assert not [p for p in drawn.rglob("*") if p.name.endswith(".part")]

    assert main(["scan", "--quiet", str(root / "corpus")]) == 1
    text = capsys.readouterr().out
    assert "# error: " in text and printable(str(root / "corpus" / "caf\udce9.png")) in text


def test_library_scan_of_the_corpus_gives_the_same_records(corpus):
    root, entries = corpus
    pages = notes_ocr.scan(root / "corpus")
    assert [page.source for page in pages] == [str(root / "corpus" / e.name) for e in entries]
    for entry, page in zip(entries, pages, strict=True):
        assert (page.error and page.error.type) == entry.error, (entry.name, page.error)


# --- the pixel limit -----------------------------------------------------------------------


def small_page() -> np.ndarray:
    return cv2.imread(str(EXAMPLES / "plain_black.png"), cv2.IMREAD_GRAYSCALE)[:40, :60]


def set_tiff_size(data: bytes, width: int, height: int) -> bytes:
    """A little-endian TIFF's first page declared ``width`` x ``height`` (LONG tags)."""
    data = bytearray(data)
    ifd = int.from_bytes(data[4:8], "little")
    for at in range(ifd + 2, ifd + 2 + 12 * int.from_bytes(data[ifd : ifd + 2], "little"), 12):
        tag = int.from_bytes(data[at : at + 2], "little")
        if tag in (256, 257):
            data[at + 2 : at + 8] = (4).to_bytes(2, "little") + (1).to_bytes(4, "little")
            data[at + 8 : at + 12] = (width if tag == 256 else height).to_bytes(4, "little")
    return bytes(data)


def bmp_bomb() -> bytes:
    data = bytearray(cv2.imencode(".bmp", small_page())[1].tobytes())
    data[18:26] = BOMB_SIDE.to_bytes(4, "little") + BOMB_SIDE.to_bytes(4, "little")
    return bytes(data)


def webp_bomb() -> bytes:
    """A lossy WebP declaring 16383 x 16383 pixels, the most its header can say."""
    data = bytearray(cv2.imencode(".webp", small_page(), [cv2.IMWRITE_WEBP_QUALITY, 90])[1])
    assert data[12:16] == b"VP8 "
    data[26:30] = (16383).to_bytes(2, "little") + (16383).to_bytes(2, "little")
    return bytes(data)


def pdf_bomb() -> bytes:
    """A PDF page of 200 x 200 inches: 60000 x 60000 pixels at 300 dpi."""
    from hostile_corpus import pdf_file

    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 14400 14400] >>"]
    return pdf_file(objects, b"<< /Size 4 /Root 1 0 R >>")


BOMBS = {
    "png": lambda: png_bomb(BOMB_SIDE, BOMB_SIDE),
    "jpg": lambda: jpeg_bomb(cv2.imencode(".jpg", small_page())[1].tobytes(), BOMB_SIDE,
                             BOMB_SIDE),
    "bmp": bmp_bomb,
    "webp": webp_bomb,
    "tif": lambda: set_tiff_size(cv2.imencode(".tif", small_page())[1].tobytes(), BOMB_SIDE,
                                 BOMB_SIDE),
    "pdf": pdf_bomb,
}


@pytest.mark.parametrize("suffix", sorted(BOMBS))
def test_a_bomb_is_refused_from_its_header_before_any_decoding(tmp_path, monkeypatch, suffix):
    path = tmp_path / f"bomb.{suffix}"
    path.write_bytes(BOMBS[suffix]())
    assert path.stat().st_size < 20_000

    def no_decoding(*args, **kwargs):
        raise AssertionError("the bomb was handed to a decoder")

    monkeypatch.setattr(cv2, "imdecode", no_decoding)
    monkeypatch.setattr(cv2, "imdecodemulti", no_decoding)
    import pypdfium2 as pdfium

    monkeypatch.setattr(pdfium.PdfPage, "render", no_decoding)
    assert count_pages(path) == 1
    with pytest.raises(ImageTooLarge) as info:
        read_page(path, 1)
    message = str(info.value)
    assert str(path) in message and "megapixels" in message and "--max-pixels" in message


def test_bombs_are_refused_without_the_memory_they_declare(tmp_path):
    # In a fresh process, whose peak memory is its own: the 900-megapixel bombs would need
    # 900 MB (grey) to decode, the PDF page 3.6 GB.
    for suffix, make in BOMBS.items():
        (tmp_path / f"bomb.{suffix}").write_bytes(make())
    code = (
        "import resource, sys\n"
        "from pathlib import Path\n"
        "from notes_ocr.errors import ImageTooLarge\n"
        "from notes_ocr.sources import read_page\n"
        "import pypdfium2\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "for path in sorted(Path(sys.argv[1]).iterdir()):\n"
        "    try:\n"
        "        read_page(path, 1)\n"
        "    except ImageTooLarge:\n"
        "        pass\n"
        "    else:\n"
        "        raise SystemExit(f'{path} was not refused')\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) < 64 * 1024  # kB: the peak grew by less than 64 MB


def test_declared_sizes_match_what_the_decoders_find(tmp_path):
    colour = cv2.imread(str(EXAMPLES / "plain_black.png"))[:70, :110]
    for suffix in [".png", ".jpg", ".bmp", ".webp", ".tif"]:
        for image in [colour, cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY)]:
            data = cv2.imencode(suffix, image)[1].tobytes()
            kind = {".jpg": "jpeg", ".tif": "tiff"}.get(suffix, suffix[1:])
            assert declared_sizes(data, kind) == [(110, 70)], suffix
    lossless = cv2.imencode(".webp", colour, [cv2.IMWRITE_WEBP_QUALITY, 101])[1].tobytes()
    assert lossless[12:16] == b"VP8L" and declared_sizes(lossless, "webp") == [(110, 70)]
    ok, tiff = cv2.imencodemulti(".tif", [colour, colour[:30, :20]])
    assert ok and declared_sizes(tiff.tobytes(), "tiff") == [(110, 70), (20, 30)]
    assert declared_sizes(tiff.tobytes(), "tiff", 2) == [(20, 30)]


def test_max_pixels_moves_the_limit_and_zero_lifts_it(tmp_path, capsys):
    page = tmp_path / "page.png"
    shutil.copy(EXAMPLES / "plain_black.png", page)
    height, width = cv2.imread(str(page)).shape[:2]
    assert main(["scan", "--format", "jsonl", "--max-pixels", str(width * height - 1),
                 str(page)]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["error"]["type"] == "ImageTooLarge"
    assert captured.err.count("over the limit") == 1
    for limit in [str(width * height), "0", "1e8"]:
        assert main(["scan", "--quiet", "--max-pixels", limit, str(page)]) == 0
    capsys.readouterr()
    assert notes_ocr.scan(page, max_pixels=1000)[0].error.type == "ImageTooLarge"
    with pytest.raises(ImageTooLarge):
        notes_ocr.scan(np.zeros((100, 100), np.uint8), max_pixels=1000)
    assert notes_ocr.scan(np.zeros((100, 100), np.uint8), max_pixels=None)[0].error is None
    assert MAX_PIXELS == 100_000_000


def test_names_no_utf8_writer_takes_are_written_escaped(tmp_path):
    latin1 = tmp_path / os.fsdecode(b"caf\xe9.png")
    shutil.copy(EXAMPLES / "plain_black.png", latin1)
    out = tmp_path / "out.jsonl"
    assert main(["scan", "--quiet", "-o", str(out), str(latin1)]) == 0
    (record,) = jsonl(out.read_bytes())  # valid UTF-8
    assert record["source"] == str(latin1) and record["lines"]
    # --resume finds the page recorded, under the same name.
    assert main(["scan", "--quiet", "--resume", "-o", str(out), str(latin1)]) == 0
    assert len(jsonl(out.read_bytes())) == 1


def test_files_whose_names_are_not_utf8_read_in_every_format(tmp_path):
    # OpenCV crashes the process when handed such a name, and pdfium refuses it: files are
    # opened and counted by Python, decoded from their bytes.
    from test_sources import make_pdf

    page = cv2.imread(str(EXAMPLES / "plain_black.png"))[:500]
    name = os.fsdecode(b"\xe9t\xe9")
    for suffix in [".png", ".jpg", ".tif"]:
        (tmp_path / f"{name}{suffix}").write_bytes(cv2.imencode(suffix, page)[1].tobytes())
    make_pdf(tmp_path / "scan.pdf", [page])  # Pillow puts the name in the PDF: UTF-8 only
    (tmp_path / "scan.pdf").rename(tmp_path / f"{name}.pdf")
    done = run_cli("scan", "--format", "jsonl", str(tmp_path), text=False)
    assert done.returncode == 0, done.stderr
    records = jsonl(done.stdout)
    assert [Path(r["source"]).suffix for r in records] == [".jpg", ".pdf", ".png", ".tif"]
    assert all(r["error"] is None and r["lines"] for r in records)

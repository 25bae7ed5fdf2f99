"""The notes-ocr command on real files: formats, the JSONL schema, bad files, exit codes."""

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli

from notes_ocr.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
GOOD = EXAMPLES / "plain_black.png"
TRUTH = json.loads((EXAMPLES / "truth.json").read_text())  # file name -> its lines


def check_box(box) -> None:
    assert isinstance(box, list) and len(box) == 4
    assert all(isinstance(v, int) and v >= 0 for v in box)


def check_record(record: dict) -> None:
    """The page record's schema, as the README documents it."""
    assert set(record) == {"source", "page", "width", "height", "lines", "error"}
    assert isinstance(record["source"], str)
    assert isinstance(record["page"], int) and record["page"] >= 1
    assert isinstance(record["width"], int) and isinstance(record["height"], int)
    assert isinstance(record["lines"], list)
    for line in record["lines"]:
        assert set(line) == {"text", "box", "confidence", "chars"}
        check_box(line["box"])
        # A line's confidence is the mean of its digits' (each rounded in the record).
        mean = sum(digit["confidence"] for digit in line["chars"]) / len(line["chars"])
        assert line["confidence"] == pytest.approx(mean, abs=1e-4)
        chars = [digit["char"] for digit in line["chars"]]
        assert line["text"].replace(" ", "") == "".join(chars)
        assert "  " not in line["text"] and line["text"] == line["text"].strip()
        for digit in line["chars"]:
            assert set(digit) == {"char", "confidence", "box"}
            assert digit["char"] in "0123456789"
            assert isinstance(digit["confidence"], float)
            check_box(digit["box"])
    if record["error"] is None:
        assert record["width"] > 0 and record["height"] > 0
    else:
        assert set(record["error"]) == {"type", "message"}
        assert record["error"]["type"] and record["error"]["message"]
        assert record["lines"] == []


@pytest.fixture()
def mixed_folder(tmp_path: Path) -> Path:
    """Two good pages and two bad files, one of them in a subfolder."""
    folder = tmp_path / "notes"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(GOOD, folder / "a_good.png")
    shutil.copy(EXAMPLES / "ruled_blue.jpg", folder / "sub" / "c_good.jpg")
    (folder / "b_empty.jpg").write_bytes(b"")
    (folder / "sub" / "d_text.png").write_text("this is not an image\n")
    (folder / "notes.txt").write_text("not picked up by a folder walk\n")
    return folder


def test_text_output_prints_the_lines(capsys):
    assert main(["scan", str(GOOD)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == len(TRUTH[GOOD.name])
    assert not any(line.startswith("#") for line in printed)


def test_jsonl_records_follow_the_schema_and_bad_files_are_reported(mixed_folder, capsys):
    code = main(["scan", "--format", "jsonl", str(mixed_folder)])
    captured = capsys.readouterr()
    records = [json.loads(line) for line in captured.out.splitlines()]

    assert code == 1
    assert [Path(r["source"]).name for r in records] == [
        "a_good.png", "b_empty.jpg", "c_good.jpg", "d_text.png"
    ]
    for record in records:
        check_record(record)
    good, empty, good2, text = records
    assert good["error"] is None and good["lines"] and good2["lines"]
    assert empty["error"]["type"] == "UndecodableImage" and "empty" in empty["error"]["message"]
    assert text["error"]["type"] == "UndecodableImage"
    *errors, summary = captured.err.splitlines()
    assert len(errors) == 2
    assert "b_empty.jpg" in errors[0] and "d_text.png" in errors[1]
    assert summary.startswith("notes-ocr: 4 pages, ") and ", 2 failed files, " in summary
    assert "Traceback" not in captured.err


def test_missing_file_is_a_record_not_a_crash(tmp_path, capsys):
    code = main(["scan", "--format", "jsonl", str(tmp_path / "nope.jpg"), str(GOOD)])
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 1
    assert records[0]["error"]["type"] == "UnreadableFile"
    assert records[1]["error"] is None


def test_json_and_csv_formats(tmp_path, capsys):
    out = tmp_path / "pages.json"
    assert main(["scan", "--format", "json", "-o", str(out), str(GOOD), str(GOOD)]) == 0
    pages = json.loads(out.read_text())
    assert len(pages) == 2 and pages[0] == pages[1]
    check_record(pages[0])
    assert len(pages[0]["lines"]) == len(TRUTH[GOOD.name])

    assert main(["scan", "--format", "csv", str(GOOD)]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [row["text"] for row in rows] == [line["text"] for line in pages[0]["lines"]]
    assert [int(row["line"]) for row in rows] == list(range(1, len(rows) + 1))


def test_several_pages_get_headers(capsys):
    assert main(["scan", str(GOOD), str(EXAMPLES / "ruled_blue.jpg")]) == 0
    headers = [line for line in capsys.readouterr().out.splitlines() if line.startswith("# ")]
    assert headers == [f"# {GOOD}", f"# {EXAMPLES / 'ruled_blue.jpg'}"]


@pytest.mark.parametrize(
    "args", [["scan"], ["scan", "--format", "xml", str(GOOD)], ["frobnicate"], []]
)
def test_usage_errors_exit_2(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_real_process_exit_codes_and_no_traceback(mixed_folder):
    assert run_cli("scan", str(GOOD)).returncode == 0
    failed = run_cli("scan", "--format", "jsonl", str(mixed_folder))
    assert failed.returncode == 1
    assert len(failed.stdout.splitlines()) == 4
    assert "Traceback" not in failed.stderr
    assert run_cli("scan", "--format", "nope", str(GOOD)).returncode == 2
    bad_model = run_cli("scan", "--model", str(mixed_folder / "b_empty.jpg"), str(GOOD))
    assert bad_model.returncode == 1
    assert bad_model.stderr.count("\n") == 1 and "Traceback" not in bad_model.stderr


def test_scanning_never_imports_tensorflow():
    code = (
        "import sys; from notes_ocr.cli import main; "
        f"main(['scan', '--quiet', '--format', 'jsonl', {str(GOOD)!r}]); "
        "print('keras' in sys.modules, 'tensorflow' in sys.modules, file=sys.stderr)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "False False"


@pytest.mark.slow
def test_train_then_eval_then_scan_with_the_new_model(tmp_path, capsys):
    out = tmp_path / "model"
    args = ["train", "--limit", "3000", "--hidden", "64,32", "--epochs", "3", "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "epoch 3/3" in printed and "loss" in printed
    assert (out / "mlp.keras").is_file() and (out / "mlp.npz").is_file()
    # The new model carries its own checksums (sha256sum's format), checked when loaded.
    sums = subprocess.run(["sha256sum", "--check", "SHA256SUMS"], cwd=out, capture_output=True,
                          text=True)
    assert sums.returncode == 0 and sums.stdout.split() == ["mlp.npz:", "OK", "mlp.keras:", "OK"]

    assert main(["eval", "--model", str(out), "--engine", "numpy"]) == 0
    report = capsys.readouterr().out.splitlines()
    accuracy = float(report[0].rsplit(" ", 1)[1])
    assert 0.5 < accuracy < 0.99  # learned from 3000 digits, short of the real model
    assert len(report) >= 12  # the header, a rule and one row per digit

    assert main(["scan", "--model", str(out), "--format", "jsonl", str(GOOD)]) == 0
    record = json.loads(capsys.readouterr().out)
    check_record(record)
    assert record["error"] is None and record["width"] == 1240


def test_min_confidence_marks_doubtful_digits_and_keeps_the_line_shape(capsys):
    assert main(["scan", "--format", "jsonl", str(EXAMPLES / "grid_pencil.jpg")]) == 0
    plain = json.loads(capsys.readouterr().out)
    confidences = sorted(d["confidence"] for line in plain["lines"] for d in line["chars"])
    # About a tenth of the digits fall below, halfway between two (rounded) confidences.
    low = confidences[len(confidences) // 10]
    threshold = (low + min(c for c in confidences if c > low)) / 2
    args = ["scan", "--format", "jsonl", "--min-confidence", str(threshold)]
    assert main([*args, str(EXAMPLES / "grid_pencil.jpg")]) == 0
    marked = json.loads(capsys.readouterr().out)
    for before, after in zip(plain["lines"], marked["lines"], strict=True):
        assert len(after["text"]) == len(before["text"])
        for old, new in zip(before["chars"], after["chars"], strict=True):
            assert new["char"] == ("?" if old["confidence"] < threshold else old["char"])
    assert any("?" in line["text"] for line in marked["lines"])
    with pytest.raises(SystemExit):
        main([*args[:-1], "1.5", str(GOOD)])


def test_a_pdf_of_a_page_reads_like_the_page(tmp_path, capsys):
    import cv2
    from test_sources import make_pdf

    page = cv2.imread(str(GOOD))
    make_pdf(tmp_path / "scan.pdf", [page, page])
    assert main(["scan", "--format", "jsonl", str(GOOD), str(tmp_path / "scan.pdf")]) == 0
    image, first, second = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (first["page"], second["page"]) == (1, 2)
    texts = [line["text"] for line in image["lines"]]
    assert len(texts) == len(TRUTH[GOOD.name])
    assert [line["text"] for line in first["lines"]] == texts
    assert [line["text"] for line in second["lines"]] == texts


def test_output_format_follows_the_output_files_suffix(tmp_path):
    for name, check in [
        ("out.jsonl", lambda text: json.loads(text.splitlines()[0])["source"] == str(GOOD)),
        ("out.csv", lambda text: text.startswith("source,page,line,text,confidence,error")),
        ("out.json", lambda text: json.loads(text)[0]["source"] == str(GOOD)),
        ("out.txt", lambda text: len(text.splitlines()) == len(TRUTH[GOOD.name])
         and text[0].isdigit()),
    ]:
        out = tmp_path / name
        assert main(["scan", "--quiet", "-o", str(out), str(GOOD)]) == 0
        assert check(out.read_text()), name


@pytest.mark.parametrize(
    "args",
    [
        ["--resume"],
        ["--resume", "-o", "out.csv"],
        ["--resume", "-o", "out.jsonl", "--format", "text"],
        ["--jobs", "0"],
        ["--jobs", "two"],
        ["--ray", "local", "--annotate", "drawn"],
        ["--ray", "local", "--report", "report.html"],
        ["--max-pixels", "-1"],
        ["--max-pixels", "lots"],
        ["--max-pixels", "1.5"],
        ["--page-timeout", "-3"],
        ["--page-timeout", "inf"],
    ],
)
def test_scan_option_errors_exit_2(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["scan", *args, str(GOOD)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err and "Traceback" not in err


def test_csv_has_a_row_per_line_and_one_per_failed_file(tmp_path, capsys):
    (tmp_path / "bad.png").write_text("no image")
    assert main(["scan", "--quiet", "--format", "csv", str(GOOD), str(tmp_path / "bad.png")]) == 1
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    good = [row for row in rows if row["source"] == str(GOOD)]
    assert len(good) == len(TRUTH[GOOD.name])
    assert [int(row["line"]) for row in good] == list(range(1, len(good) + 1))
    assert all(row["text"] and 0 < float(row["confidence"]) <= 1 for row in good)
    (bad,) = [row for row in rows if row["source"] != str(GOOD)]
    assert bad["page"] == "1" and bad["line"] == "" and "bad.png" in bad["error"]


def test_annotate_writes_every_page_drawn_over(tmp_path):
    import cv2

    page = cv2.imread(str(GOOD))
    notes = tmp_path / "notes"
    (notes / "sub").mkdir(parents=True)
    shutil.copy(GOOD, notes / "sub")
    assert cv2.imwritemulti(str(notes / "scan.tif"), [page[:700], page[700:1400]])
    drawn = tmp_path / "drawn"
    assert main(["scan", "--quiet", "--annotate", str(drawn), str(notes)]) == 0
    # Named by their place under the folder that holds all the inputs.
    assert sorted(p.relative_to(drawn).as_posix() for p in drawn.rglob("*.jpg")) == [
        "scan.tif-page1.jpg", "scan.tif-page2.jpg", "sub/plain_black.png-page1.jpg"
    ]
    image = cv2.imread(str(drawn / "sub" / "plain_black.png-page1.jpg"))
    assert image.shape == page.shape
    # Boxes drawn in colour over the grey page.
    assert (np.abs(image.astype(int) - image.mean(axis=2, keepdims=True)) > 60).any()


def test_drawings_reread_pages_under_the_scans_pixel_limit(tmp_path, monkeypatch):
    import notes_ocr.annotate

    asked = []
    real_read_page = notes_ocr.annotate.read_page

    def read_page(path, number, max_pixels):
        asked.append(max_pixels)
        return real_read_page(path, number, max_pixels)

    monkeypatch.setattr(notes_ocr.annotate, "read_page", read_page)
    for limit in ["0", "5e7"]:
        args = ["scan", "--quiet", "--max-pixels", limit, "--annotate", str(tmp_path), str(GOOD)]
        assert main(args) == 0
    assert asked == [None, 50_000_000]


def test_a_drawing_that_cannot_be_written_is_one_line_and_leaves_nothing(tmp_path, monkeypatch,
                                                                         capsys):
    import os

    def replace(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", replace)
    drawn = tmp_path / "drawn"
    assert main(["scan", "--quiet", "--annotate", str(drawn), str(GOOD)]) == 1
    err = capsys.readouterr().err
    assert err == (f"notes-ocr: error: {drawn / 'plain_black.png-page1.jpg'}: cannot write the "
                   "annotated page (No space left on device)\n")
    assert list(drawn.iterdir()) == []  # no drawing, and no half of one


def test_doubtful_digits_are_boxed_red_and_sure_ones_green():
    from notes_ocr.annotate import DOUBTFUL, GOOD, draw_page
    from notes_ocr.results import Char, Line, Page

    digits = [Char("4", 0.5, (10, 10, 20, 30)), Char("2", 0.99, (40, 10, 20, 30))]
    page = Page("p.png", 1, 200, 100, [Line("42", (10, 10, 50, 30), 0.745, digits)])
    for scale in (1.0, 0.5):
        size = (round(100 * scale), round(200 * scale))
        canvas = draw_page(np.full(size, 255, np.uint8), page, scale=scale)
        x = round(10 * scale)  # the left edge of each digit's box
        assert tuple(canvas[round(25 * scale), x]) == DOUBTFUL
        assert tuple(canvas[round(25 * scale), round(40 * scale)]) == GOOD


def test_ray_without_ray_installed_is_one_clear_line(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    assert main(["scan", "--ray", "local", str(GOOD)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Ray is not installed" in err and "Traceback" not in err


def test_ray_pages_go_to_the_same_writers_and_resume(tmp_path, monkeypatch, capsys):
    import cv2

    import notes_ocr.cluster
    from notes_ocr.batch import BatchScanner

    asked = []

    class RayHere:  # a cluster, run here: --ray is a choice of executor
        def __init__(self, address, scanner):
            self.address = address
            self.local = BatchScanner(scanner, jobs=1)

        def scan(self, items):
            items = list(items)
            asked.append(([(Path(item.source).name, item.page) for item in items],
                          self.address))
            return self.local.scan(items)

    monkeypatch.setattr(notes_ocr.cluster, "RayExecutor", RayHere)
    page = cv2.imread(str(GOOD))
    tif = tmp_path / "scan.tif"
    assert cv2.imwritemulti(str(tif), [page[:700], page[700:1400]])
    out = tmp_path / "ray.jsonl"
    args = ["scan", "--ray", "auto", "-o", str(out), str(GOOD), str(tif)]
    assert main(args) == 0
    full = out.read_bytes()
    assert [json.loads(line)["page"] for line in full.splitlines()] == [1, 1, 2]
    assert asked == [([("plain_black.png", 1), ("scan.tif", 1), ("scan.tif", 2)], "auto")]
    assert "3 pages" in capsys.readouterr().err

    out.write_bytes(full[: full.index(b"\n", full.index(b"\n") + 1) + 1] + b'{"sour')
    assert main([*args, "--resume"]) == 0
    assert out.read_bytes() == full  # only the page not recorded was read again
    assert asked[1] == ([("scan.tif", 2)], "auto")


def test_a_reader_that_goes_away_ends_the_scan_quietly():
    # `notes-ocr scan ... | head`: the pipe is closed before the first record is written.
    scan = subprocess.Popen(
        [sys.executable, "-m", "notes_ocr", "scan", "-q", str(EXAMPLES / "ruled_blue.jpg")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    scan.stdout.close()
    _, err = scan.communicate(timeout=120)
    assert scan.returncode == 1
    assert b"Traceback" not in err and b"BrokenPipe" not in err, err.decode()


def test_limits_default_to_the_librarys():
    from notes_ocr import cli
    from notes_ocr.options import ScanOptions

    args = cli.build_parser().parse_args(["scan", str(GOOD)])
    assert args.max_pixels == ScanOptions().max_pixels
    assert args.page_timeout == ScanOptions().page_timeout
    limits = cli.build_parser().parse_args(["scan", "--max-pixels", "0", "--page-timeout", "0",
                                            str(GOOD)])
    assert limits.max_pixels is None and limits.page_timeout is None  # 0: no limit

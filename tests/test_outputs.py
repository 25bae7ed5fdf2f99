"""Files are sacred: outputs never overwrite an input, nothing is written beside the inputs,
and a results file is complete or untouched (whole formats) or whole record by record
(JSON Lines)."""

import json
import os
import shutil
from pathlib import Path

import pytest

from notes_ocr.cli import main
from notes_ocr.results import PageWriter

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture()
def inputs(tmp_path: Path) -> Path:
    folder = tmp_path / "notes"
    folder.mkdir()
    for name in ["plain_black.png", "ruled_blue.jpg"]:
        shutil.copy(EXAMPLES / name, folder / name)
    return folder


def snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    """Every file under ``folder``: its modification time and bytes."""
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes())
            for p in sorted(folder.rglob("*")) if p.is_file()}


def usage_error(args: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("option", ["-o", "--report"])
@pytest.mark.parametrize("how", ["itself", "link", "hard link"])
def test_an_output_that_is_an_input_is_refused(inputs, tmp_path, capsys, option, how):
    page = inputs / "plain_black.png"
    before = snapshot(inputs)
    target = {"itself": page, "link": tmp_path / "out.json", "hard link": tmp_path / "out.csv"}[how]
    if how == "link":
        target.symlink_to(page)
    elif how == "hard link":
        os.link(page, target)
    err = usage_error(["scan", option, str(target), str(inputs)], capsys)
    assert "is one of the input files" in err and "Traceback" not in err
    assert snapshot(inputs) == before


def test_resuming_into_an_input_touches_it_not(inputs, capsys):
    # A file named as an input (it is no image, but the user named it) whose last line
    # looks torn to --resume (no newline at its end): refused before the torn line could
    # be cut off it.
    notes = inputs / "notes.jsonl"
    notes.write_bytes(b'{"source": "a.png"')
    before = snapshot(inputs)
    err = usage_error(["scan", "--resume", "-o", str(notes), str(notes), str(inputs)], capsys)
    assert "is one of the input files" in err
    assert snapshot(inputs) == before


def test_drawings_never_overwrite_an_input(inputs, capsys):
    # An input named as the drawing of another would be: --annotate into the inputs' folder.
    shutil.copy(EXAMPLES / "grid_pencil.jpg", inputs / "plain_black.png-page1.jpg")
    before = snapshot(inputs)
    err = usage_error(["scan", "--annotate", str(inputs), str(inputs)], capsys)
    assert "plain_black.png-page1.jpg, which is one of the input files" in err
    assert snapshot(inputs) == before


def test_nothing_is_written_beside_or_over_the_inputs(inputs, tmp_path):
    before = snapshot(inputs)
    out = tmp_path / "out"
    args = ["scan", "--quiet", "-o", str(out / "results.json"), "--report",
            str(out / "report.html"), "--annotate", str(out / "drawn"), str(inputs)]
    out.mkdir()
    assert main(args) == 0
    assert snapshot(inputs) == before
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert written == ["drawn/plain_black.png-page1.jpg", "drawn/ruled_blue.jpg-page1.jpg",
                       "report.html", "results.json"]  # no temporary file left behind
    assert len(json.loads((out / "results.json").read_text())) == 2
    umask = os.umask(0o022)
    os.umask(umask)
    for name in ["results.json", "report.html", "drawn/ruled_blue.jpg-page1.jpg"]:
        assert (out / name).stat().st_mode & 0o777 == 0o666 & ~umask  # as open() makes them


def interrupt_after_first_page(monkeypatch) -> None:
    real_write = PageWriter.write

    def write(self, page):
        if self.count == 1:
            raise KeyboardInterrupt
        real_write(self, page)

    monkeypatch.setattr(PageWriter, "write", write)


@pytest.mark.parametrize("name", ["results.json", "results.csv", "results.txt"])
def test_whole_file_outputs_are_complete_or_untouched(inputs, tmp_path, monkeypatch, name):
    out, report = tmp_path / name, tmp_path / "report.html"
    out.write_text("the results of an earlier run\n")
    report.write_text("an earlier report\n")
    args = ["scan", "--quiet", "-o", str(out), "--report", str(report), str(inputs)]
    with monkeypatch.context() as patch:
        interrupt_after_first_page(patch)
        assert main(args) == 130  # Ctrl-C after the first page
    assert out.read_text() == "the results of an earlier run\n"
    assert report.read_text() == "an earlier report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["notes", name, "report.html"])

    assert main(args) == 0
    assert "earlier" not in out.read_text() and "ruled_blue.jpg" in out.read_text()
    assert report.read_text().endswith("</html>\n")


def test_jsonl_is_written_record_by_record_and_synced_at_the_end(inputs, tmp_path,
                                                                 monkeypatch):
    out = tmp_path / "results.jsonl"
    seen_on_disk = []
    synced = []
    real_write, real_fsync = PageWriter.write, os.fsync

    def write(self, page):
        real_write(self, page)
        seen_on_disk.append(out.read_bytes().count(b"\n"))

    def fsync(fd):
        synced.append(os.path.realpath(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(PageWriter, "write", write)
    monkeypatch.setattr(os, "fsync", fsync)
    assert main(["scan", "--quiet", "-o", str(out), str(inputs)]) == 0
    assert seen_on_disk == [1, 2]  # each record in the file as soon as it is written
    assert synced == [str(out)]
    # A run cut short keeps the records written, for --resume.
    with monkeypatch.context() as patch:
        interrupt_after_first_page(patch)
        assert main(["scan", "--quiet", "-o", str(out), str(inputs)]) == 130
    assert out.read_bytes().count(b"\n") == 1


def test_an_output_that_cannot_be_written_is_one_line(inputs, tmp_path, capsys):
    for path in [tmp_path / "missing" / "out.json", tmp_path / "missing" / "out.jsonl",
                 inputs]:
        assert main(["scan", "--quiet", "-o", str(path), str(inputs / "ruled_blue.jpg")]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"notes-ocr: error: {path}: cannot write the results")
        assert err.count("\n") == 1


def test_a_report_that_cannot_be_written_is_one_line(inputs, tmp_path, capsys):
    page = str(inputs / "ruled_blue.jpg")
    for path in [tmp_path / "missing" / "report.html", tmp_path]:
        assert main(["scan", "--quiet", "--report", str(path), page]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"notes-ocr: error: {path}: cannot write the report")
        assert err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes"]


def test_a_report_is_written_through_a_link(inputs, tmp_path):
    (tmp_path / "reports").mkdir()
    link, target = tmp_path / "report.html", tmp_path / "reports" / "latest.html"
    target.write_text("an earlier report\n")
    link.symlink_to(target)
    assert main(["scan", "--quiet", "--report", str(link), str(inputs)]) == 0
    assert link.is_symlink() and target.read_text().endswith("</html>\n")
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == ["latest.html"]

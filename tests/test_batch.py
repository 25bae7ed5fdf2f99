"""Batches: worker processes, cross-page classification, stable order, resume, progress."""

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import make_pdf

from notes_ocr import Scanner
from notes_ocr.batch import (
    PAGES_AHEAD,
    BatchScanner,
    PageTask,
    Progress,
    Summary,
    WorkerPool,
    classify,
    plan_pages,
    recover_jsonl,
)
from notes_ocr.cli import main
from notes_ocr.errors import InputError
from notes_ocr.pipeline import prepare
from notes_ocr.results import Page
from notes_ocr.sources import PageImage, to_grey

TESTS = Path(__file__).resolve().parent
EXAMPLES = TESTS.parent / "examples"


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner()


@pytest.fixture(scope="module")
def notes(tmp_path_factory) -> Path:
    """Thirteen pages in eleven files: the tops of the example pages (quick to read), a
    two-page TIFF, a two-page PDF, and a file that is not an image."""
    folder = tmp_path_factory.mktemp("notes")
    tops = {}
    for name in ["grid_pencil.jpg", "plain_black.png", "ruled_blue.jpg", "ruled_black_shadow.jpg"]:
        image = cv2.imread(str(EXAMPLES / name))
        tops[name] = image[:650]
        assert cv2.imwrite(str(folder / f"a_{Path(name).stem}.png"), image[:650])
        assert cv2.imwrite(str(folder / f"b_{Path(name).stem}.jpg"), image[650:1300])
    assert cv2.imwritemulti(str(folder / "c_two_pages.tif"),
                            [tops["ruled_blue.jpg"], tops["grid_pencil.jpg"]])
    make_pdf(folder / "d_two_pages.pdf", [tops["plain_black.png"][:, :600],
                                          tops["ruled_black_shadow.jpg"][:, :600]])
    (folder / "e_bad.png").write_text("not an image\n")
    return folder


@pytest.fixture(scope="module")
def reference(notes, tmp_path_factory) -> bytes:
    """The JSON Lines of one uninterrupted scan of ``notes`` with two workers."""
    out = tmp_path_factory.mktemp("reference") / "all.jsonl"
    assert main(["scan", "--quiet", "--jobs", "2", "-o", str(out), str(notes)]) == 1
    return out.read_bytes()


def records(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.splitlines()]


def test_reference_covers_every_kind_of_page(reference):
    pages = [(Path(r["source"]).name, r["page"]) for r in records(reference)]
    assert len(pages) == 13 and len(set(pages)) == 13
    assert pages[-5:] == [("c_two_pages.tif", 1), ("c_two_pages.tif", 2),
                          ("d_two_pages.pdf", 1), ("d_two_pages.pdf", 2), ("e_bad.png", 1)]
    read = [r for r in records(reference) if r["error"] is None]
    assert len(read) == 12 and all(r["lines"] for r in read)


def test_jobs_1_and_jobs_2_give_identical_records(notes, reference, tmp_path):
    out = tmp_path / "one.jsonl"
    assert main(["scan", "--quiet", "--jobs", "1", "-o", str(out), str(notes)]) == 1
    assert out.read_bytes() == reference


def test_a_pages_probabilities_do_not_depend_on_its_batch(scanner):
    image = to_grey(cv2.imread(str(EXAMPLES / "ruled_blue.jpg")))
    page = prepare(PageImage("page", 1, image)).images
    few = page[:7]  # a page with few candidates: BLAS' small-matrix kernels
    alone = classify(scanner.recognizer, [few])
    together = classify(scanner.recognizer, [page[7:20], few, page, page[:150]])
    assert np.array_equal(alone[0], together[1])
    assert [len(rows) for rows in together] == [13, 7, len(page), 150]
    assert np.array_equal(together[2], classify(scanner.recognizer, [page])[0])


def kill_mid_run(args: list[str], out: Path, records: int) -> int:
    """Run ``notes-ocr ARGS`` and kill -9 it once ``out`` holds ``records`` records, while a
    worker is reading the next page (tests/stop_scan.py); return how many lines it held."""
    code = f"import sys; sys.path.insert(0, {str(TESTS)!r}); import stop_scan; stop_scan.main()"
    killed = subprocess.run([sys.executable, "-c", code, str(records), str(out), "--", *args],
                            capture_output=True, text=True, timeout=600)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    return out.read_bytes().count(b"\n")


@pytest.mark.slow
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_resume_after_kill_9_completes_the_file_exactly(notes, reference, tmp_path, jobs):
    out = tmp_path / "results.jsonl"
    args = ["scan", "--quiet", "--jobs", jobs, "-o", str(out), str(notes)]
    assert kill_mid_run(args, out, records=5) == 5
    assert reference.startswith(out.read_bytes())

    done = subprocess.run([sys.executable, "-m", "notes_ocr", *args, "--resume"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1  # e_bad.png failed
    assert out.read_bytes() == reference
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("cut", [1, 200, -1], ids=["first-byte", "mid-line", "newline"])
def test_resume_drops_a_torn_last_line(notes, reference, tmp_path, cut, capsys):
    # A run that died while writing its fourth record: whole lines, then part of one.
    starts = [i + 1 for i, byte in enumerate(reference) if byte == ord("\n")]
    torn = starts[2] + cut if cut > 0 else starts[3] + cut
    out = tmp_path / "results.jsonl"
    out.write_bytes(reference[:torn])
    assert main(["scan", "--jobs", "2", "--resume", "-o", str(out), str(notes)]) == 1
    assert out.read_bytes() == reference
    summary = capsys.readouterr().err.splitlines()[-1]
    assert summary.startswith("notes-ocr: 10 pages, ")
    assert "(3 pages recorded before, skipped)" in summary


def test_resume_of_a_finished_file_reads_nothing(notes, reference, tmp_path, capsys):
    out = tmp_path / "results.jsonl"
    out.write_bytes(reference)
    assert main(["scan", "--resume", "-o", str(out), str(notes)]) == 1  # e_bad.png, before
    assert out.read_bytes() == reference
    assert "notes-ocr: 0 pages, 0 digits, 0 failed files" in capsys.readouterr().err


def test_resume_refuses_a_file_that_is_not_ours(tmp_path):
    out = tmp_path / "results.jsonl"
    record = '{"source": "%s", "page": 1, "width": 8, "height": 8, "lines": [], "error": null}\n'
    out.write_text(record % "a.png" + "some other program's output\n" + record % "b.png")
    with pytest.raises(InputError, match="line 2 is not a notes-ocr record"):
        recover_jsonl(out)
    assert recover_jsonl(tmp_path / "missing.jsonl").pages == 0


class DiesWhenRead(os.PathLike):
    """A path whose reading kills the process reading it, as the out-of-memory killer or a
    crash in a native library would; harmless in the process that made it."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self.maker = os.getpid()

    def __fspath__(self) -> str:
        if os.getpid() != self.maker:
            os.kill(os.getpid(), signal.SIGKILL)
        return self.path

    def __str__(self) -> str:
        return self.path


def test_a_worker_that_dies_costs_only_its_page(notes, reference, scanner):
    plan = plan_pages([notes])
    victim = 3
    plan[victim] = PageTask(DiesWhenRead(plan[victim].path), 1)
    pages = [scanned.record for scanned in BatchScanner(scanner, jobs=2).scan(plan)]
    got = [page.to_dict() for page in pages]
    expected = records(reference)
    assert got[victim]["error"]["type"] == "WorkerCrashed"
    assert got[:victim] + got[victim + 1 :] == expected[:victim] + expected[victim + 1 :]


def test_a_failure_in_segmentation_or_finishing_is_that_pages_record(notes, scanner,
                                                                     monkeypatch):
    import notes_ocr.batch

    real_prepare = notes_ocr.batch.prepare

    def prepare_or_fail(page):
        if "a_plain" in page.source:
            raise ValueError("segmentation blew up")
        return real_prepare(page)

    real_finish = scanner.finish

    def finish_or_fail(prepared, probabilities):
        if "b_ruled_blue" in prepared.source:
            raise ZeroDivisionError("layout blew up")
        return real_finish(prepared, probabilities)

    monkeypatch.setattr(notes_ocr.batch, "prepare", prepare_or_fail)
    monkeypatch.setattr(scanner, "finish", finish_or_fail)
    pages = [s.record for s in BatchScanner(scanner, jobs=1).scan(plan_pages([notes]))]
    failed = {Path(page.source).name: page.error for page in pages if page.error}
    assert set(failed) == {"a_plain_black.png", "b_ruled_blue.jpg", "e_bad.png"}
    assert failed["a_plain_black.png"].type == "InternalError"
    assert "ValueError: segmentation blew up" in failed["a_plain_black.png"].message
    assert "ZeroDivisionError: layout blew up" in failed["b_ruled_blue.jpg"].message
    assert len(pages) == 13 and sum(bool(page.lines) for page in pages) == 10


def test_pages_in_flight_stay_bounded_however_long_the_batch(tmp_path, scanner, monkeypatch):
    blank = np.full((120, 160), 255, np.uint8)
    for number in range(30):
        assert cv2.imwrite(str(tmp_path / f"{number:02d}.png"), blank)
    submitted = 0
    real_submit = WorkerPool.submit

    def counting_submit(self, task):
        nonlocal submitted
        submitted += 1
        return real_submit(self, task)

    monkeypatch.setattr(WorkerPool, "submit", counting_submit)
    most = 0
    for done, _ in enumerate(BatchScanner(scanner, jobs=2).scan(plan_pages([tmp_path])), 1):
        most = max(most, submitted - done + 1)
        time.sleep(0.01)  # a slow consumer: unbounded workers would run far ahead
    assert submitted == 30
    assert most <= 2 * PAGES_AHEAD * 2  # in flight, and prepared waiting to be classified


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal_only():
    screen = Terminal()
    progress = Progress(3, screen)
    for _ in range(3):
        progress.update()
    progress.write("notes-ocr: error: x.png: empty file")
    progress.close()
    shown = screen.getvalue()
    assert "3/3" in shown and "page/s" in shown and "x.png: empty file" in shown

    quiet, piped = Terminal(), io.StringIO()
    for stream, enabled in [(quiet, False), (piped, True)]:
        progress = Progress(3, stream, enabled=enabled)
        progress.update()
        progress.write("a message")
        progress.close()
    assert quiet.getvalue() == piped.getvalue() == "a message\n"


def test_summary_counts_pages_digits_and_failed_files():
    from notes_ocr.results import Char, Line, PageError

    digits = [Char("1", 0.9, (0, 0, 1, 1)), Char("2", 0.9, (1, 0, 1, 1))]
    summary = Summary()
    summary.add(Page("a.png", 1, 10, 10, [Line("12", (0, 0, 2, 1), 0.9, digits)]))
    error = PageError("UndecodableImage", "b.tif: cannot decode")
    summary.add(Page("b.tif", 1, 0, 0, error=error))
    summary.add(Page("b.tif", 2, 0, 0, error=error))
    line = summary.line()
    assert line.startswith("3 pages, 2 digits, 1 failed file, ") and line.endswith(" pages/s")


def test_one_page_is_read_in_this_process(tmp_path, capsys, monkeypatch):
    # `notes-ocr scan page.jpg` does not wait for worker processes to start.
    def no_pool(*args, **kwargs):
        raise AssertionError("a worker pool was started for one page")

    monkeypatch.setattr(WorkerPool, "__init__", no_pool)
    shutil.copy(EXAMPLES / "ruled_blue.jpg", tmp_path)
    assert main(["scan", "--jobs", "4", str(tmp_path / "ruled_blue.jpg")]) == 0
    captured = capsys.readouterr()
    assert captured.out and not captured.out.startswith("#")  # lines, no page header
    assert captured.err.startswith("notes-ocr: 1 page, ")


class NeverEndsWhenRead(os.PathLike):
    """A path whose reading never ends in a worker process (as a pathological page might
    keep a decoder busy); harmless in the process that made it."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self.maker = os.getpid()

    def __fspath__(self) -> str:
        if os.getpid() != self.maker:
            time.sleep(3600)
        return self.path

    def __str__(self) -> str:
        return self.path


PAGE_LIMIT = 20.0


@pytest.mark.slow
@pytest.mark.parametrize("jobs", [2, 1])
def test_a_page_past_the_time_limit_is_given_up_and_the_batch_goes_on(notes, reference,
                                                                       scanner, jobs):
    plan = plan_pages([notes])
    victim = 3 if jobs == 2 else 1
    plan[victim] = PageTask(NeverEndsWhenRead(plan[victim].path), 1)
    plan = plan if jobs == 2 else plan[:3]  # a pool of one worker: a few pages suffice
    # A page of these takes a fraction of a second, under load a few times that: a limit
    # of 100 times as long stops the stuck page and none of the others on any machine.
    batch = BatchScanner(scanner, jobs=jobs, page_timeout=PAGE_LIMIT)
    got = [scanned.record.to_dict() for scanned in batch.scan(plan)]
    expected = records(reference)[: len(plan)]
    assert got[victim]["error"]["type"] == "PageTimeout"
    assert f"was still being read after {PAGE_LIMIT:g} s" in got[victim]["error"]["message"]
    assert got[:victim] + got[victim + 1 :] == expected[:victim] + expected[victim + 1 :]


def test_page_timeout_reports_every_page_it_stops_and_exits_1(tmp_path):
    # So short a limit that no page can be read within it: every page is stopped, each has
    # its record and its line, and the batch still ends.
    for name in ["plain_black.png", "ruled_blue.jpg"]:
        shutil.copy(EXAMPLES / name, tmp_path / name)
    done = subprocess.run(
        [sys.executable, "-m", "notes_ocr", "scan", "--format", "jsonl", "--page-timeout",
         "0.001", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert [json.loads(line)["error"]["type"] for line in done.stdout.splitlines()] == [
        "PageTimeout", "PageTimeout"]
    *errors, summary = done.stderr.splitlines()
    assert len(errors) == 2 and all("--page-timeout" in line for line in errors)
    assert "2 failed files" in summary and "Traceback" not in done.stderr


# --- the batch API: what the CLI runs, from the library -----------------------------------


class Collect:
    """A sink that keeps what it is given."""

    wants_thumbnails = True

    def __init__(self) -> None:
        self.pages, self.thumbnails, self.closed, self.discarded = [], [], None, False

    def add(self, page, thumbnail=None):
        self.pages.append(page)
        self.thumbnails.append(thumbnail)

    def close(self, summary):
        self.closed = summary

    def discard(self):
        self.discarded = True


def test_the_library_scans_a_folder_as_the_cli_does(notes, reference, tmp_path):
    from notes_ocr import BatchScan, RecordsFile, ScanOptions

    out = tmp_path / "out.jsonl"
    collect = Collect()
    scan = BatchScan([notes], ScanOptions(jobs=2))
    pages = list(scan.pages([RecordsFile(out), collect]))
    assert out.read_bytes() == reference
    assert [page.to_dict() for page in pages] == records(reference)
    assert collect.pages == pages and collect.closed.startswith("13 pages, ")
    # A sink that asks for thumbnails gets one with each page read.
    assert all((t is None) == (p.error is not None) for t, p in zip(collect.thumbnails, pages,
                                                                    strict=True))
    assert scan.failed  # e_bad.png


def test_the_library_resumes_a_scan_cut_short(notes, reference, tmp_path):
    from notes_ocr import BatchScan, RecordsFile, ScanOptions, scan_batch

    out = tmp_path / "out.jsonl"
    collect = Collect()
    for count, _ in enumerate(scan_batch([notes], ScanOptions(jobs=2), [RecordsFile(out),
                                                                      collect]), start=1):
        if count == 4:
            break  # the caller stops: the sinks are told, the records so far are kept
    assert collect.discarded and collect.closed is None
    assert records(out.read_bytes()) == records(reference)[:4]
    scan = BatchScan([notes], ScanOptions(jobs=2), resume=out)
    assert len(scan.plan) == 13 and len(scan.todo) == 9
    list(scan.pages([RecordsFile(out, append=True)]))
    assert out.read_bytes() == reference
    assert "(4 pages recorded before, skipped)" in scan.summary_line()


def test_the_readmes_batch_example_runs(notes, reference, tmp_path, monkeypatch, capsys):
    readme = (TESTS.parent / "README.md").read_text(encoding="utf-8")
    blocks = [block.split("```", 1)[0] for block in readme.split("```python\n")[1:]]
    (example,) = [block for block in blocks if "BatchScan(" in block]
    shutil.copytree(notes, tmp_path / "notes")
    monkeypatch.chdir(tmp_path)
    exec(compile(example, "README.md", "exec"), {})
    assert len(records((tmp_path / "out.jsonl").read_bytes())) == 13
    assert capsys.readouterr().out.splitlines()[-1].startswith("13 pages, ")
    exec(compile(example, "README.md", "exec"), {})  # again: everything was done
    (summary,) = capsys.readouterr().out.splitlines()
    assert summary.startswith("0 pages, ") and "(13 pages recorded before, skipped)" in summary
    assert len(records((tmp_path / "out.jsonl").read_bytes())) == 13

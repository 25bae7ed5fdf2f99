"""Scanning on Ray: the same records, in the same order, as the local scan."""

import shutil
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from notes_ocr import NotesOcrError, Page, PageError, Scanner
from notes_ocr.batch import PageTask, Prepared
from notes_ocr.cluster import (
    PageClassifier,
    connect,
    in_input_order,
    page_dataset,
    prepare_row,
    scan_on_ray,
)
from notes_ocr.pipeline import prepare
from notes_ocr.sources import PageImage

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
# Ray Data's own settings warn about themselves as its context is made; nothing of ours.
pytestmark = [
    pytest.mark.slow,  # Ray starts in a second or more
    pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context"),
]


@pytest.fixture(scope="module")
def notes(tmp_path_factory) -> Path:
    """A small folder: two pages, a two-page TIFF, and a file that is not an image."""
    folder = tmp_path_factory.mktemp("notes")
    shutil.copy(EXAMPLES / "plain_black.png", folder)
    shutil.copy(EXAMPLES / "ruled_blue.jpg", folder)
    names = ("grid_pencil.jpg", "ruled_black_shadow.jpg")
    pages = [cv2.imread(str(EXAMPLES / name)) for name in names]
    assert cv2.imwritemulti(str(folder / "two_pages.tif"), pages)
    (folder / "bad.png").write_text("not an image\n")
    return folder


@pytest.fixture(scope="module")
def local_records(notes) -> list[dict]:
    return [page.to_dict() for page in Scanner().scan_paths([notes])]


@pytest.fixture(scope="module")
def ray_local():
    """One local Ray for the module: starting one takes seconds."""
    ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'notes-ocr[ray]'")
    pytest.importorskip("ray.data", reason="Ray Data needs ray[data]")
    started = connect("local")
    yield ray
    if started:
        ray.shutdown()


def test_local_records_cover_every_case(local_records):
    # What the Ray tests compare against: an unreadable file, a multi-page file, digits.
    assert [(Path(r["source"]).name, r["page"]) for r in local_records] == [
        ("bad.png", 1), ("plain_black.png", 1), ("ruled_blue.jpg", 1),
        ("two_pages.tif", 1), ("two_pages.tif", 2),
    ]
    assert local_records[0]["error"]["type"] == "UndecodableImage"
    assert all(r["lines"] for r in local_records[1:])


def test_scan_on_ray_gives_the_local_records_in_order(ray_local, notes, local_records):
    pages = list(scan_on_ray([notes], "local"))
    assert [page.to_dict() for page in pages] == local_records
    assert ray_local.is_initialized()  # the Ray it found is left running


def test_page_dataset_rows_are_the_local_records(ray_local, notes, local_records):
    rows = page_dataset([notes]).sort("index").take_all()
    assert [row["index"] for row in rows] == list(range(len(local_records)))
    assert [Page.from_dict(row).to_dict() for row in rows] == local_records


def test_scan_on_ray_without_ray_says_how_to_install_it(monkeypatch, notes):
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` fail
    with pytest.raises(NotesOcrError, match=r"Ray is not installed: pip install"):
        scan_on_ray([notes], "local")


def test_plan_records_pass_through_and_pages_are_prepared(notes):
    record = Page("gone.png", 1, 0, 0, error=PageError("UnreadableFile", "gone.png: no such file"))
    row = prepare_row({"index": 4, "item": record})
    assert row["index"] == 4 and row["item"].record == record

    row = prepare_row({"index": 0, "item": PageTask(notes / "two_pages.tif", 2)})
    assert row["item"].record is None
    assert row["item"].prepared.page == 2 and len(row["item"].prepared.images) > 0


def test_classifier_fails_only_the_page_at_fault():
    pytest.importorskip("pyarrow", reason="the classifier's output needs pyarrow (ray[data])")
    grey = cv2.imread(str(EXAMPLES / "ruled_blue.jpg"), cv2.IMREAD_GRAYSCALE)
    good = prepare(PageImage("good.png", 1, grey))
    # Candidates the model rejects (float, not uint8) stand for any failure in classifying.
    broken = replace(good, source="broken.png", proposal=replace(
        good.proposal, images=good.images.astype(np.float32)))
    failed = Page("bad.png", 1, 0, 0, error=PageError("UndecodableImage", "bad.png: empty file"))
    batch = {
        "index": np.array([5, 6, 7]),
        "item": np.array([Prepared(None, prepared=good), Prepared(None, prepared=broken),
                          Prepared(None, record=failed)], dtype=object),
    }
    rows = PageClassifier(Scanner())(batch).to_pylist()

    assert [row["index"] for row in rows] == [5, 6, 7]
    (expected,) = Scanner().scan_paths([EXAMPLES / "ruled_blue.jpg"])
    assert Page.from_dict(rows[0]).lines == Page.from_dict(expected.to_dict()).lines
    assert rows[1]["lines"] == []
    assert rows[1]["error"]["type"] == "InternalError"
    assert rows[1]["error"]["message"].startswith("broken.png: ValueError: expected uint8")
    assert Page.from_dict(rows[2]) == failed


def test_in_input_order_gives_each_row_once_all_before_it_are_in():
    arrived = [{"index": i} for i in (2, 0, 3, 1)]
    assert [row["index"] for row in in_input_order(iter(arrived), 4)] == [0, 1, 2, 3]

    with pytest.raises(RuntimeError, match="1 of 4 pages in order and 1 after"):
        list(in_input_order(iter(arrived[1:3]), 4))

"""The HTML report: one static page that works offline, checked in a real browser."""

import base64
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import make_pdf

from notes_ocr.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
INSTALL = "apt-get install -y chromium (.ci/run does it when root)"


class Elements(HTMLParser):
    """Every start tag, with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def all(self, tag: str) -> list[dict]:
        return [attrs for name, attrs in self.tags if name == tag]


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> tuple[Path, list[dict]]:
    """A report of three pages and a failed file, and the records of the same run."""
    folder = tmp_path_factory.mktemp("notes")
    shutil.copy(EXAMPLES / "grid_pencil.jpg", folder / "a_grid.jpg")
    page = cv2.imread(str(EXAMPLES / "ruled_blue.jpg"))
    make_pdf(folder / "b_two_pages.pdf", [page[:600, :500], page[600:1200, :500]])
    (folder / "c_bad.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    out = tmp_path_factory.mktemp("out")
    args = ["scan", "--quiet", "--report", str(out / "report.html"), "-o",
            str(out / "pages.jsonl"), str(folder)]
    assert main(args) == 1
    records = [json.loads(line) for line in (out / "pages.jsonl").read_text().splitlines()]
    return out / "report.html", records


def test_report_has_every_page_its_lines_and_the_failed_file(batch):
    report, records = batch
    text = report.read_text()
    elements = Elements()
    elements.feed(text)
    assert len([a for a in elements.all("section") if a.get("class") == "page"]) == 4
    shown = re.sub(r"<[^>]+>", "", text)  # the text a reader sees
    truth = json.loads((EXAMPLES / "truth.json").read_text())
    assert len(records[0]["lines"]) == len(truth["grid_pencil.jpg"])
    for record in records:
        for line in record["lines"]:
            assert line["text"] in shown
    overview = text[text.index('<section class="overview">') :]
    assert "c_bad.png" in overview and "cannot decode PNG" in overview
    assert "4 pages, " in overview and "1 failed file" in overview


def test_report_thumbnails_are_embedded_images(batch):
    report, _ = batch
    elements = Elements()
    elements.feed(report.read_text())
    images = elements.all("img")
    assert len(images) == 3  # the failed file has none
    for attrs in images:
        kind, payload = attrs["src"].split(",", 1)
        assert kind == "data:image/jpeg;base64"
        image = cv2.imdecode(np.frombuffer(base64.b64decode(payload), np.uint8), 1)
        assert image.shape[:2] == (int(attrs["height"]), int(attrs["width"]))
        assert max(image.shape[:2]) <= 560


def test_report_needs_no_network(batch):
    report, _ = batch
    elements = Elements()
    elements.feed(report.read_text())
    for tag, attrs in elements.tags:
        for name in ("src", "href"):
            value = attrs.get(name)
            assert value is None or value.startswith(("data:", "#")), (tag, name, value)
    assert "<script" not in report.read_text() and "@import" not in report.read_text()


def browser() -> str:
    for name in BROWSERS:
        if path := shutil.which(name):
            return path
    pytest.skip(f"no Chromium to open the report in: {INSTALL}")


@pytest.mark.slow
def test_report_opens_in_chromium_and_its_images_load(batch, tmp_path):
    chromium = browser()
    report, _ = batch
    # A copy with a script that counts, once the page has loaded, the images that decoded.
    checked = tmp_path / "checked.html"
    probe = (
        "<script>addEventListener('load', () => { const all = [...document.images]; "
        "const shown = all.filter(i => i.complete && i.naturalWidth > 0); "
        "document.body.dataset.images = shown.length + '/' + all.length; });</script>"
    )
    checked.write_text(report.read_text().replace("</body>", probe + "</body>"))
    result = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         # Offline: any attempt to fetch from the network fails.
         "--host-resolver-rules=MAP * ~NOTFOUND", "--virtual-time-budget=5000",
         "--dump-dom", checked.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    assert "<title>notes-ocr report</title>" in dom
    assert 'data-images="3/3"' in dom

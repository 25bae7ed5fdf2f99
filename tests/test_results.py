"""The page record: defined once, written by to_dict, read back by from_dict."""

import json

import numpy as np
import pytest

from notes_ocr import errors
from notes_ocr.results import Char, Line, Page, PageError, failed_page, make_line


def a_page() -> Page:
    # Confidences a record holds exactly (it rounds them to 4 places).
    digits = [Char("1", 0.75, (10, 20, 8, 30)), Char("?", 0.5, (25, 21, 15, 29))]
    line = make_line([digits[:1], digits[1:]])
    return Page("notes/a.png", 2, 640, 480, [line])


def test_a_record_reads_back_as_the_page_it_was():
    page = a_page()
    assert Page.from_dict(json.loads(json.dumps(page.to_dict()))) == page
    failed = failed_page("b.png", 1, errors.UndecodableImage("b.png: not an image"))
    assert Page.from_dict(failed.to_dict()) == failed


def test_a_record_of_an_earlier_version_reads_back():
    # Before separators were read, a line's characters were its "digits": a resumed run
    # takes the records an earlier version wrote.
    record = a_page().to_dict()
    record["lines"][0]["digits"] = record["lines"][0].pop("chars")
    assert Page.from_dict(record) == a_page()


def test_a_line_keeps_separators_inside_its_groups():
    chars = [Char(c, 0.5, (10 * i, 0, 8, 30)) for i, c in enumerate("12/05/2019")]
    line = make_line([chars, [Char("1", 0.5, (120, 0, 8, 30))]])
    assert line.text == "12/05/2019 1"
    assert Line.from_dict(line.to_dict()) == line


def test_a_record_with_numpy_numbers_reads_as_a_python_one():
    # Ray's Arrow rows hold NumPy scalars and arrays.
    record = a_page().to_dict()
    record["page"] = np.int64(2)
    record["lines"][0]["chars"][0]["box"] = np.array([10, 20, 8, 30])
    record["lines"][0]["confidence"] = np.float64(record["lines"][0]["confidence"])
    record["index"] = 7  # a row's own key: ignored
    page = Page.from_dict(record)
    assert page == Page.from_dict(a_page().to_dict())
    assert type(page.page) is int and type(page.lines[0].chars[0].box[0]) is int


@pytest.mark.parametrize("damage", [
    lambda r: r.pop("width"),
    lambda r: r.update(page=0),
    lambda r: r.update(page=True),
    lambda r: r.update(source=""),
    lambda r: r.update(source=3),
    lambda r: r.update(lines={}),
    lambda r: r["lines"][0].update(chars="12"),
    lambda r: r["lines"][0]["chars"][0].update(box=[1, 2, 3]),
    lambda r: r["lines"][0]["chars"][0].update(confidence="high"),
    lambda r: r.update(error={"type": "X"}),
    lambda r: r.update(error="broken"),
])
def test_what_is_not_a_record_is_refused(damage):
    record = a_page().to_dict()
    damage(record)
    with pytest.raises(ValueError):
        Page.from_dict(record)


def test_an_exception_becomes_a_record_with_a_stable_type():
    timeout = failed_page("a.pdf", 3, errors.PageTimeout("a.pdf: page 3 took too long"))
    assert timeout.error == PageError("PageTimeout", "a.pdf: page 3 took too long")
    assert (timeout.page, timeout.width, timeout.height) == (3, 0, 0)
    crash = failed_page("a.pdf", 1, RuntimeError("bad\nthing"), shape=(30, 40))
    assert crash.error == PageError("InternalError", "a.pdf: RuntimeError: bad thing")
    assert (crash.width, crash.height) == (40, 30)
    # The names are the format's, not the classes': each class says its own.
    codes = {cls.code for cls in vars(errors).values()
             if isinstance(cls, type) and issubclass(cls, errors.NotesOcrError)}
    assert {"UnreadableFile", "UndecodableImage", "ImageTooLarge", "PageTimeout",
            "WorkerCrashed", "InternalError"} <= codes
    assert len(codes) == len([cls for cls in vars(errors).values()
                              if isinstance(cls, type) and issubclass(cls, errors.NotesOcrError)])


def test_a_line_is_its_digits():
    line = a_page().lines[0]
    assert isinstance(line, Line) and line.text == "1 ?"
    assert line.confidence == 0.625
    assert line.box == (10, 20, 30, 30)

"""Replacing a whole file: complete or untouched, never torn (files.AtomicFile)."""

import os
import stat

import pytest

from notes_ocr.files import AtomicFile, new_file_mode


def test_a_file_is_replaced_only_when_complete(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("old\n")
    with AtomicFile(path) as stream:
        stream.write("new,\r\n")
        assert path.read_text() == "old\n"  # not yet
    assert path.read_bytes() == b"new,\r\n"  # as written: CSV's own line ends kept
    assert os.listdir(tmp_path) == ["out.csv"]


def test_a_block_that_raises_leaves_the_file_as_it_was(tmp_path):
    path = tmp_path / "out.json"
    path.write_text("old\n")
    with pytest.raises(RuntimeError), AtomicFile(path) as stream:
        stream.write("half")
        raise RuntimeError("cut short")
    assert path.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["out.json"]
    dropped = AtomicFile(tmp_path / "never.txt")
    dropped.discard()
    assert os.listdir(tmp_path) == ["out.json"]


def test_a_link_is_written_through_and_permissions_are_opens(tmp_path):
    target = tmp_path / "real.txt"
    target.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    with AtomicFile(link, binary=True) as stream:
        stream.write(b"new")
    assert link.is_symlink() and target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == new_file_mode()
    with AtomicFile(tmp_path / "private", binary=True, permissions=0o600) as stream:
        stream.write(b"x")
    assert stat.S_IMODE((tmp_path / "private").stat().st_mode) == 0o600


def test_a_file_that_cannot_be_made_is_an_oserror(tmp_path):
    with pytest.raises(OSError):
        AtomicFile(tmp_path / "no such folder" / "out.txt")

"""Replacing a file so that a run cut short never leaves it torn: the one way notes-ocr
writes a whole file (results in JSON, CSV or text, drawings, the report, checksums)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import IO


class AtomicFile:
    """A new version of ``path``, written through ``stream`` under a hidden temporary name
    beside it, then synced to disk and renamed over it by ``commit``.

    Until then ``path`` holds what it held before; ``discard`` drops the new version. A
    link is written through, not replaced: the temporary file goes beside its target. In a
    ``with`` block the file is committed at the end, or discarded if the block raises.
    The new file's permissions are ``permissions``, by default what ``open`` would give it.
    Raises OSError as ``open`` and ``os.replace`` do.
    """

    def __init__(self, path: str | os.PathLike, binary: bool = False,
                 permissions: int | None = None) -> None:
        self.target = Path(os.path.realpath(path))
        handle, name = tempfile.mkstemp(prefix=f".{self.target.name}.", suffix=".part",
                                        dir=self.target.parent)
        self.temporary: Path | None = Path(name)
        try:
            os.fchmod(handle, new_file_mode() if permissions is None else permissions)
            # Text as it is given: "\n" stays "\n", and CSV's own line ends are kept.
            self.stream: IO = (open(handle, "wb") if binary
                               else open(handle, "w", encoding="utf-8", newline=""))
        except BaseException:
            os.close(handle)
            self.discard()
            raise

    def commit(self) -> None:
        """Sync the new version to disk and rename it over ``path``."""
        if self.temporary is None:
            raise ValueError(f"{self.target}: already committed or discarded")
        try:
            self.stream.flush()
            os.fsync(self.stream.fileno())
            self.stream.close()
            os.replace(self.temporary, self.target)
        except BaseException:
            self.discard()
            raise
        self.temporary = None

    def discard(self) -> None:
        """Drop the new version, if it is not in place yet: ``path`` is left as it was."""
        if self.temporary is None:
            return
        with contextlib.suppress(OSError):
            if hasattr(self, "stream"):
                self.stream.close()
        with contextlib.suppress(OSError):
            self.temporary.unlink()
        self.temporary = None

    def __enter__(self) -> IO:
        return self.stream

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if kind is None:
            self.commit()
        else:
            self.discard()


def new_file_mode() -> int:
    """The permissions ``open`` gives a new file: 0o666 less the process's umask (only
    readable by setting it, so it is set back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask

"""Run ``notes-ocr`` and kill -9 its main process at a point the test chooses, not at a
moment a race chooses: a helper for the resume tests, run in a process of its own.

    python -c "import stop_scan; stop_scan.main()" RECORDS OUT -- notes-ocr arguments

The page after the first RECORDS pages is read by a worker that waits until OUT holds
RECORDS whole lines and then kills the main process with SIGKILL. The main process cannot
write a later record before that page's, so OUT then holds exactly RECORDS records.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

# Long enough for any machine to read the pages before the kill; only a broken scan waits
# this long, and the test then fails on the count of records.
WAIT = 300.0


class KillsTheScanWhenRead(os.PathLike):
    """A page's path that, read in a worker process, waits until ``out`` holds ``records``
    lines and then kills the process that made it (the scan's main process)."""

    def __init__(self, path: Path, out: Path, records: int) -> None:
        self.path = str(path)
        self.out = Path(out)
        self.records = records
        self.maker = os.getpid()

    def __fspath__(self) -> str:
        if os.getpid() != self.maker:
            deadline = time.monotonic() + WAIT
            while self.written() < self.records and time.monotonic() < deadline:
                time.sleep(0.01)
            os.kill(self.maker, signal.SIGKILL)
            time.sleep(WAIT)  # the worker ends with its parent (batch.exit_with_parent)
        return self.path

    def __str__(self) -> str:
        return self.path

    def written(self) -> int:
        try:
            return self.out.read_bytes().count(b"\n")
        except FileNotFoundError:
            return 0


def main() -> None:
    from notes_ocr import batch, cli

    records, out, separator, *args = sys.argv[1:]
    assert separator == "--", "usage: RECORDS OUT -- notes-ocr arguments"
    plan_pages = batch.plan_pages

    def plan_with_a_killer(paths):
        plan = plan_pages(paths)
        task = plan[int(records)]
        plan[int(records)] = batch.PageTask(
            KillsTheScanWhenRead(task.path, Path(out), int(records)), task.page)
        return plan

    batch.plan_pages = plan_with_a_killer
    sys.exit(cli.main(args))

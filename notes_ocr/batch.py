"""Scanning many pages: worker processes read and segment, one model classifies.

``BatchScan`` is the batch API, what ``notes-ocr scan`` runs: inputs and ``ScanOptions``
in, the pages' records out in input order, each handed to the sinks (results files,
drawings, the report). It reads the pages with an executor: ``BatchScanner`` here, or
``cluster.RayExecutor`` on a Ray cluster.

Each page is read and segmented (``pipeline.prepare``) in a pool of worker processes, which
are sent file names, never images. The main process takes the prepared pages back in input
order, classifies the candidate digits of as many of them as are ready in one go, finishes
them (``Scanner.finish``) and hands their records on. Only a few pages per worker are in
flight at a time, so memory stays flat however long the batch, and the records come out the
same, in the same order, for any number of workers.

One bad page never stops a batch: a page that cannot be read, or whose segmentation or
finishing raises, gets a record with its error; a worker process that dies (a crash in a
native library, the out-of-memory killer) is replaced, and the pages it may have been
reading are read again one at a time, so that only the page at fault gets an error record.
A page that takes longer than the time limit is given up the same way: the workers are
stopped and replaced, the page gets a PageTimeout record, and the others are read again.

Resuming: a JSON Lines file a run was writing when it stopped holds complete records and
at most one torn last line. ``recover_jsonl`` drops that line, and the pages recorded are
left out of the next run (`ResumeState`).
"""

from __future__ import annotations

import json
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

import cv2
import numpy as np
from threadpoolctl import threadpool_limits

from notes_ocr.errors import InputError, PageTimeout, WorkerCrashed
from notes_ocr.options import MAX_PIXELS, ScanOptions
from notes_ocr.pipeline import PreparedPage, Scanner, prepare
from notes_ocr.recognizer import BATCH, Recognizer
from notes_ocr.results import Page, failed_page
from notes_ocr.separators import SEPARATORS
from notes_ocr.sources import count_pages, list_inputs, quiet_opencv, read_page

# Pages in flight per worker: enough that workers never wait for the main process to take
# their results, few enough that memory does not grow with the batch. As many again may
# wait, prepared, to be classified together.
PAGES_AHEAD = 4
# Candidates classified together at most: the recognizer's own forward-pass size.
MAX_ROWS = BATCH
# Longest side of the thumbnails made for the HTML report, in pixels.
THUMBNAIL_SIZE = 560


def default_jobs() -> int:
    """The CPUs this process may run on (fewer than the machine's under an affinity mask)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


# --- what to scan --------------------------------------------------------------------------


@dataclass(frozen=True)
class PageTask:
    """One page to read: its file, named as the user named it, and its number from 1."""

    path: Path
    page: int

    @property
    def source(self) -> str:
        return str(self.path)


def plan_pages(paths: Iterable[str | os.PathLike]) -> list[PageTask | Page]:
    """Every page of every input, in order: a task to read it, or the error record of a file
    that cannot be opened at all.

    Folders and patterns are expanded (``sources.list_inputs``); each file's pages are
    counted from its header, so that a long PDF is spread over all the workers.
    """
    plan: list[PageTask | Page] = []
    for path in list_inputs(paths):
        try:
            count = count_pages(path)
        except Exception as exc:  # one bad file must never stop a batch
            plan.append(failed_page(str(path), 1, exc))
            continue
        plan.extend(PageTask(path, number) for number in range(1, count + 1))
    return plan


# --- in the workers ------------------------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    """A worker's answer for one page: segmented and waiting for the classifier, or already
    its record (it failed); with a small grey copy of the page when one was asked for."""

    task: PageTask | None
    prepared: PreparedPage | None = None
    record: Page | None = None
    thumbnail: np.ndarray | None = None

    @property
    def rows(self) -> int:
        return 0 if self.prepared is None else len(self.prepared.images)


def prepare_task(
    task: PageTask, thumbnail_size: int = 0, max_pixels: int | None = MAX_PIXELS
) -> Prepared:
    """Read and segment one page (run in a worker); every failure becomes the page's record.

    A page of more than ``max_pixels`` pixels is refused from its header (ImageTooLarge).
    """
    try:
        page = read_page(task.path, task.page, max_pixels)
    except Exception as exc:  # one bad page must never stop a batch
        return Prepared(task, record=failed_page(task.source, task.page, exc))
    thumbnail = make_thumbnail(page.image, thumbnail_size) if thumbnail_size else None
    try:
        return Prepared(task, prepared=prepare(page), thumbnail=thumbnail)
    except Exception as exc:
        record = failed_page(task.source, task.page, exc, page.image.shape)
        return Prepared(task, record=record, thumbnail=thumbnail)


def make_thumbnail(image: np.ndarray, size: int) -> np.ndarray:
    """``image`` shrunk so that its longest side is at most ``size`` pixels."""
    scale = size / max(image.shape)
    if scale >= 1:
        return image.copy()
    width = max(1, round(image.shape[1] * scale))
    height = max(1, round(image.shape[0] * scale))
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def worker_context() -> multiprocessing.context.BaseContext:
    """How worker processes start: from a fork server where there is one.

    Not by forking this process: OpenCV's thread pool does not survive a fork, and a
    worker forked from a process that had used it hangs. The fork server is a fresh process
    that imports this module once; each worker is a fork of it, ready at once. It imports
    scikit-image's skeletonize too, which ``normalize`` imports only when first used (half
    a second of scipy): once there, rather than once in every worker.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__, "skimage.morphology"])
    return context


def start_worker() -> None:
    """Set up a worker process: one thread each, quiet, and Ctrl-C left to the main process."""
    # The pool already runs one page per core; OpenCV's own threads would only contend.
    cv2.setNumThreads(1)
    # A damaged file becomes its page's record; OpenCV's own messages would only repeat it.
    quiet_opencv()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=exit_with_parent, daemon=True).start()


def exit_with_parent() -> None:
    """End this worker when the main process is gone (``kill -9``, a crash), which leaves it
    waiting for pages that will never come."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(1)


# --- in the main process -------------------------------------------------------------------


@dataclass(frozen=True)
class ScannedPage:
    """A finished page: its record, and its thumbnail when one was asked for."""

    record: Page
    thumbnail: np.ndarray | None = None


def classify(recognizer: Recognizer, images: list[np.ndarray]) -> list[np.ndarray]:
    """``predict_proba`` rows for the candidates of several pages, classified together.

    ``images`` holds each page's (C, 28, 28) candidates; the rows come back split the same
    way.
    """
    counts = [len(page) for page in images]
    rows = np.concatenate(images) if images else np.zeros((0, 28, 28), np.uint8)
    out = recognizer.predict_proba(rows)
    return np.split(out, np.cumsum(counts)[:-1]) if counts else []


class BatchScanner:
    """Scans many pages with ``jobs`` worker processes and one recognizer.

    ``thumbnail_size`` > 0 asks for a grey thumbnail of each page read, for the HTML report.
    Pages over ``scanner.max_pixels`` are refused from their headers.

    ``page_timeout`` (seconds) gives up a page whose worker has not answered that long
    after the batch came to wait for it: the workers are stopped and replaced, the page
    gets a PageTimeout record and the batch goes on. With a time limit, pages are always
    read in worker processes, ``jobs=1`` too; without one (None), ``jobs=1`` reads every
    page in this process, one after the other, with no protection from a crash in a native
    library or a page that never ends. A batch of one page is read in this process either
    way: nothing waits behind it.
    """

    def __init__(
        self,
        scanner: Scanner,
        jobs: int | None = None,
        thumbnail_size: int = 0,
        page_timeout: float | None = None,
    ) -> None:
        self.scanner = scanner
        self.jobs = max(1, jobs or default_jobs())
        self.thumbnail_size = thumbnail_size
        self.page_timeout = page_timeout

    def scan(self, items: Iterable[PageTask | Page]) -> Iterator[ScannedPage]:
        """The finished pages of ``items`` (from ``plan_pages``), in order, each given as
        soon as it and every page before it are done; records in ``items`` pass through."""
        items = list(items)
        tasks = sum(isinstance(item, PageTask) for item in items)
        pooled = not (tasks <= 1 or (self.jobs == 1 and self.page_timeout is None))
        prepared = self.prepare_in_pool(items) if pooled else self.prepare_here(items)
        waiting: list[Prepared] = []
        rows = 0
        for result, next_ready in prepared:
            waiting.append(result)
            rows += result.rows
            # Classify what is there rather than wait: results are the same either way.
            full = rows >= MAX_ROWS or len(waiting) >= PAGES_AHEAD * self.jobs
            if full or not next_ready:
                yield from self.finish(waiting, pooled)
                waiting, rows = [], 0
        yield from self.finish(waiting, pooled)

    def prepare_here(self, items: list[PageTask | Page]) -> Iterator[tuple[Prepared, bool]]:
        for item in items:
            if isinstance(item, Page):
                yield Prepared(None, record=item), False
            else:
                yield prepare_task(item, self.thumbnail_size, self.max_pixels), False

    @property
    def max_pixels(self) -> int | None:
        return self.scanner.max_pixels

    def prepare_in_pool(self, items: list[PageTask | Page]) -> Iterator[tuple[Prepared, bool]]:
        """Prepared pages in input order, read PAGES_AHEAD per worker ahead; with each,
        whether the next is ready already."""
        pool = WorkerPool(self.jobs, self.thumbnail_size, self.max_pixels, self.page_timeout)
        todo = iter(items)
        pending: deque[tuple[PageTask | Page, Future]] = deque()
        try:
            while True:
                while len(pending) < PAGES_AHEAD * self.jobs:
                    item = next(todo, None)
                    if item is None:
                        break
                    pending.append((item, self.submit(pool, item)))
                if not pending:
                    return
                item, future = pending.popleft()
                try:
                    result = future.result(timeout=self.page_timeout)
                except (BrokenProcessPool, FutureTimeout) as exc:
                    # A worker died, and with it every page in flight; or it is stuck on
                    # this page, and the workers are stopped. Read the pages in flight
                    # again one at a time, so that only the page at fault fails.
                    if isinstance(exc, FutureTimeout):
                        result = pool.give_up(item)
                    else:
                        pool.restart()
                        result = pool.run_alone(item)
                    pending = deque(
                        (other, done_future(pool.run_alone(other)))
                        if failed(other_future) else (other, other_future)
                        for other, other_future in pending
                    )
                yield result, bool(pending) and pending[0][1].done()
        finally:
            pool.close()

    def submit(self, pool: WorkerPool, item: PageTask | Page) -> Future:
        if isinstance(item, Page):
            return done_future(Prepared(None, record=item))
        return pool.submit(item)

    def finish(self, waiting: list[Prepared], pooled: bool = False) -> Iterator[ScannedPage]:
        """Classify the candidates of ``waiting`` together and give their finished pages;
        ``pooled``: worker processes are reading pages meanwhile."""
        pages = [result.prepared for result in waiting if result.prepared is not None]
        # The workers keep every core busy: BLAS threads of its own would only contend with
        # them (and spin while they wait): 12.5 s against 9.7-11.0 s for the throughput
        # benchmark's 120 pages on 2 cores. Finishing a page may classify again (its
        # doubtful digits cut in two), so it runs under the same limit.
        with threadpool_limits(limits=1, user_api="blas") if pooled else nullcontext():
            try:
                rows = iter(classify(self.scanner.recognizer, [page.images for page in pages]))
            except Exception:
                # Classify page by page, so that only the page at fault gets an error record.
                rows = iter([None] * len(pages))
            records = [self.finish_one(page, next(rows)) for page in pages]
        finished = iter(records)
        for result in waiting:
            if result.record is not None:
                yield ScannedPage(result.record, result.thumbnail)
            elif result.prepared is not None:
                yield ScannedPage(next(finished), result.thumbnail)

    def finish_one(self, page: PreparedPage, rows: np.ndarray | None) -> Page:
        """One page's record; a failure becomes its InternalError record."""
        try:
            if rows is None:
                (rows,) = classify(self.scanner.recognizer, [page.images])
            return self.scanner.finish(page, rows)
        except Exception as exc:  # one bad page must never stop a batch
            return failed_page(page.source, page.page, exc, (page.height, page.width))


def done_future(result: Prepared) -> Future:
    future: Future = Future()
    future.set_result(result)
    return future


def failed(future: Future) -> bool:
    """Whether a page's future ended without its result (its worker died)."""
    return not future.done() or future.exception() is not None


def timeout_record(task: PageTask, seconds: float | None) -> Prepared:
    """The answer for a page given up after ``seconds``: its PageTimeout record."""
    error = PageTimeout(f"{task.source}: page {task.page} was still being read after "
                        f"{seconds:g} s; stopped (--page-timeout)")
    return Prepared(task, record=failed_page(task.source, task.page, error))


class WorkerPool:
    """A process pool that reads and segments pages, and can be restarted after a crash or
    stopped when a page takes too long."""

    # pebble's ProcessPool does this by itself (a time limit per task, a dead worker failing
    # only its task) and was tried in its place: every batch and hostile test passed, but
    # its results come back through a polling thread, and the throughput benchmark's 120
    # pages took 16.5 s against 10.4 s with this pool (scan / decode-only 0.28 against
    # 0.39, the same run, medians of 3). Hence the standard library's pool, restarted here.

    def __init__(
        self,
        jobs: int,
        thumbnail_size: int = 0,
        max_pixels: int | None = MAX_PIXELS,
        page_timeout: float | None = None,
    ) -> None:
        self.jobs = jobs
        self.thumbnail_size = thumbnail_size
        self.max_pixels = max_pixels
        self.page_timeout = page_timeout
        self.context = worker_context()
        self.executor = self.start()

    def start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.jobs, self.context, initializer=start_worker)

    def submit(self, task: PageTask) -> Future:
        """The future of ``prepare_task``; if the pool is broken already, a future failed
        with BrokenProcessPool, which the caller deals with when it comes to that page."""
        try:
            return self.executor.submit(prepare_task, task, self.thumbnail_size,
                                        self.max_pixels)
        except BrokenProcessPool as exc:
            future: Future = Future()
            future.set_exception(exc)
            return future

    def kill(self) -> None:
        """Stop every worker now, one being stuck on a page; the pages in flight fail with
        BrokenProcessPool."""
        kill_workers = getattr(self.executor, "kill_workers", None)  # Python 3.14
        if kill_workers is not None:
            kill_workers()
            return
        # Before 3.14 a ProcessPoolExecutor has no public way to stop its workers; they are
        # kept in _processes.
        for process in list((getattr(self.executor, "_processes", None) or {}).values()):
            process.kill()

    def restart(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
        self.executor = self.start()

    def run_alone(self, item: PageTask | Page) -> Prepared:
        """Prepare one page with no other in flight; if its worker dies, or it takes longer
        than the time limit, that is its error."""
        if isinstance(item, Page):
            return Prepared(None, record=item)
        try:
            return self.submit(item).result(timeout=self.page_timeout)
        except FutureTimeout:
            return self.give_up(item)
        except BrokenProcessPool:
            self.restart()
            error = WorkerCrashed(f"{item.source}: the process reading page {item.page} died")
            return Prepared(item, record=failed_page(item.source, item.page, error))

    def give_up(self, task: PageTask) -> Prepared:
        """Stop the workers, stuck on ``task``, start fresh ones, and give the page's
        PageTimeout record; the other pages in flight fail with BrokenProcessPool."""
        self.kill()
        self.restart()
        return timeout_record(task, self.page_timeout)

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


# --- resuming ------------------------------------------------------------------------------


def page_key(source: str, page: int) -> tuple[str, int]:
    """What identifies a page across runs: its file, however the path was spelt, and number."""
    return (os.path.abspath(source), page)


@dataclass
class Tally:
    """Pages, the digits read on them, and the files that failed."""

    pages: int = 0
    digits: int = 0
    failed_sources: set[str] = field(default_factory=set)

    def add(self, page: Page) -> None:
        self.pages += 1
        self.digits += digit_count(page)
        if page.error:
            self.failed_sources.add(page.source)


@dataclass
class ResumeState(Tally):
    """The pages an earlier run recorded, to be left out of this one."""

    recorded: Counter = field(default_factory=Counter)  # page_key -> times recorded

    def add(self, record: Page) -> None:
        super().add(record)
        self.recorded[page_key(record.source, record.page)] += 1

    def take(self, item: PageTask | Page) -> bool:
        """Whether ``item`` was recorded already (each record accounts for one page)."""
        key = page_key(item.source, item.page)
        if self.recorded[key] > 0:
            self.recorded[key] -= 1
            return True
        return False


def recover_jsonl(path: Path) -> ResumeState:
    """The pages recorded in a JSON Lines results file that a run may have left half-written.

    Each record is written as one line, newline last, so a crash or ``kill -9`` leaves at
    most a torn last line: it is cut off the file, so that records appended next start on
    a line of their own, and its page is read again. A bad line anywhere else means the
    file is not a notes-ocr results file: InputError. A missing file holds no records.
    The file is read line by line: a long batch's records are counted, not kept.
    """
    state = ResumeState()
    end = 0  # bytes of whole, good lines
    bad = 0  # number of a bad whole line, which only the end of the file may follow
    try:
        with open(path, "rb") as file:
            for number, line in enumerate(file, start=1):
                if bad or not line.endswith(b"\n"):
                    break
                record = parse_record(line)
                if record is None and line.strip():
                    bad = number
                    continue
                if record is not None:
                    state.add(record)
                end += len(line)
            else:
                bad = 0  # the bad line was the last: torn as well
            size = file.seek(0, os.SEEK_END)
    except FileNotFoundError:
        return state
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if bad:
        raise InputError(f"{path}: line {bad} is not a notes-ocr record; not resuming into it")
    if end < size:
        with open(path, "r+b") as file:
            file.truncate(end)
    return state


def parse_record(line: bytes) -> Page | None:
    """A page record from one JSON line, or None if the line is not one."""
    try:
        return Page.from_dict(json.loads(line))
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError):
        return None


# --- progress and summary ------------------------------------------------------------------


@dataclass
class Summary(Tally):
    """Counts for the closing line: pages, digits, files that failed, pages per second."""

    started: float = field(default_factory=time.perf_counter)

    def line(self, earlier: ResumeState | None = None) -> str:
        seconds = max(time.perf_counter() - self.started, 1e-9)
        failed = len(self.failed_sources)
        text = (
            f"{plural(self.pages, 'page')}, {plural(self.digits, 'digit')}, "
            f"{plural(failed, 'failed file')}, {self.pages / seconds:.2f} pages/s"
        )
        if earlier is not None and earlier.pages:
            text += f" ({plural(earlier.pages, 'page')} recorded before, skipped)"
        return text


def digit_count(page: Page) -> int:
    """The digits read on a page (a ``?`` counts as one), separators left out."""
    return sum(char.char not in SEPARATORS for line in page.lines for char in line.chars)


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


class Progress:
    """A progress bar on ``stream`` (pages done, pages/s, time left) when it is a terminal.

    Messages go through ``write``, so that they land above the bar, not through it.
    """

    def __init__(self, total: int, stream: IO[str] | None = None, enabled: bool = True) -> None:
        self.stream = stream or sys.stderr
        self.bar = None
        if enabled and self.stream.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="page", file=self.stream, dynamic_ncols=True,
                            smoothing=0.1)

    def update(self) -> None:
        if self.bar is not None:
            self.bar.update()

    def write(self, message: str) -> None:
        if self.bar is not None:
            self.bar.write(message, file=self.stream)
        else:
            print(message, file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# --- the batch API -------------------------------------------------------------------------


class Executor(Protocol):
    """What reads the pages of a batch: worker processes here (``BatchScanner``) or a Ray
    cluster (``cluster.RayExecutor``). Either gives the same records in the same order."""

    def scan(self, items: Iterable[PageTask | Page]) -> Iterator[ScannedPage]:
        """The finished pages of ``items`` (from ``plan_pages``), in order; records among
        the items pass through."""
        ...


class Sink(Protocol):
    """Where a batch's finished pages go, in input order: a results file
    (``results.RecordsFile``), drawings (``annotate.Annotator``), the HTML report
    (``report.HtmlReport``), or your own."""

    wants_thumbnails: bool  # a small grey copy of each page is made for it

    def add(self, page: Page, thumbnail: np.ndarray | None = None) -> None: ...

    def close(self, summary: str) -> None:
        """The batch is done; ``summary`` is its closing line."""
        ...

    def discard(self) -> None:
        """The batch was cut short: leave what would be torn as it was before."""
        ...


def executor_for(options: ScanOptions, recognizer: Recognizer,
                 thumbnails: bool = False) -> Executor:
    """The executor ``options`` ask for, reading pages with ``recognizer``."""
    scanner = Scanner(recognizer, options.min_confidence, options.max_pixels,
                      options.digits_only)
    if options.ray is not None:
        from notes_ocr.cluster import RayExecutor

        return RayExecutor(options.ray, scanner)
    return BatchScanner(scanner, options.jobs, THUMBNAIL_SIZE if thumbnails else 0,
                        options.page_timeout)


class BatchScan:
    """One scan of a batch: what ``notes-ocr scan`` runs, for the library.

    Made from the inputs (files, folders, glob patterns; PDFs and TIFFs page by page) and
    ``options``: the model is loaded and the inputs' pages are listed and counted at once
    (``plan``; a file that cannot be opened is its error record there), so that a bad
    model or a missing Ray fails before anything is read or written. ``resume`` (or the
    ``resume`` method, once the plan has been checked) names a JSON Lines results file an
    earlier run was writing: the pages recorded there are left out (``todo``) and a torn
    last line is cut off it.

    ``pages(sinks)`` then reads the pages and yields their records in input order, handing
    each to every sink as it comes; one bad page never stops the batch. ``summary`` counts
    them, and ``failed`` says whether any file failed, in this run or the earlier one.
    """

    def __init__(self, inputs: Iterable[str | os.PathLike], options: ScanOptions | None = None,
                 resume: str | os.PathLike | None = None) -> None:
        self.options = options or ScanOptions()
        quiet_opencv()
        self.recognizer = Recognizer.load(self.options.model)
        if self.options.ray is not None:
            from notes_ocr.cluster import import_ray

            import_ray()  # a missing Ray is one line, now
        self.plan = plan_pages(inputs)
        self.earlier: ResumeState | None = None
        self.todo = list(self.plan)
        self.summary = Summary()
        if resume is not None:
            self.resume(resume)

    def resume(self, path: str | os.PathLike) -> None:
        """Leave out the pages the JSON Lines results file ``path`` holds (an earlier run's,
        cut short), cutting a torn last line off it (``recover_jsonl``)."""
        self.earlier = recover_jsonl(Path(path))
        self.todo = [item for item in self.plan if not self.earlier.take(item)]

    def pages(self, sinks: Sequence[Sink] = ()) -> Iterator[Page]:
        """The records of the pages to read, in input order, each handed to ``sinks``
        first; when all are read, each sink is closed with the summary line. Stopped early
        (an exception, or the caller leaving the loop), each sink is discarded."""
        thumbnails = any(sink.wants_thumbnails for sink in sinks)
        executor = executor_for(self.options, self.recognizer, thumbnails)
        try:
            for scanned in executor.scan(self.todo):
                self.summary.add(scanned.record)
                for sink in sinks:
                    sink.add(scanned.record, scanned.thumbnail)
                yield scanned.record
        except BaseException:
            for sink in sinks:
                sink.discard()
            raise
        line = self.summary_line()
        for sink in sinks:
            sink.close(line)

    def summary_line(self) -> str:
        """Pages, digits, failed files and pages/s, and the pages an earlier run recorded."""
        return self.summary.line(self.earlier)

    @property
    def failed(self) -> bool:
        """Whether a file failed, in this run or in the earlier one it resumed."""
        earlier = self.earlier.failed_sources if self.earlier else set()
        return bool(self.summary.failed_sources or earlier)


def scan_batch(inputs: Iterable[str | os.PathLike], options: ScanOptions | None = None,
               sinks: Sequence[Sink] = (), resume: str | os.PathLike | None = None
               ) -> Iterator[Page]:
    """The records of every page of ``inputs``, in order, read as ``options`` say and each
    handed to ``sinks``: ``BatchScan(inputs, options, resume).pages(sinks)``."""
    return BatchScan(inputs, options, resume).pages(sinks)

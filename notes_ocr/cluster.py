"""Scanning on a Ray cluster with Ray Data: the records of a local scan, in the same order.

The pages to read (``batch.plan_pages``), one row each -> read and segment in parallel tasks
(``map``) -> classify in ``map_batches`` on a pool of actors, each holding one copy of the
model -> each page's record -> back on the driver, put in input order and made ``Page``
objects again.

Ray is an optional extra (``pip install 'notes-ocr[ray]'``): it and pyarrow are imported
only inside the functions here, so this module imports without them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import types
import typing
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from notes_ocr.batch import (
    BatchScanner,
    PageTask,
    Prepared,
    ScannedPage,
    default_jobs,
    plan_pages,
    prepare_task,
)
from notes_ocr.errors import NotesOcrError
from notes_ocr.options import MAX_PIXELS
from notes_ocr.pipeline import Scanner
from notes_ocr.recognizer import Recognizer
from notes_ocr.results import Page

if TYPE_CHECKING:
    import pyarrow
    import ray.data

# Pages classified together, their candidates in one forward pass. A record can leave only
# with its batch, so this also bounds how long the first records wait.
PAGES_PER_BATCH = 8
# The classifier actors' pool grows from one to this many when pages queue up for them;
# the model's forward pass is cheap next to segmentation, so a few keep up with many tasks.
MAX_CLASSIFIERS = 4


def import_ray() -> Any:
    """The ``ray`` module with Ray Data, or a one-line NotesOcrError saying how to get it."""
    try:
        import ray
        import ray.data  # needs the [data] extra's pyarrow and pandas
    except ImportError:
        raise NotesOcrError("Ray is not installed: pip install 'notes-ocr[ray]'") from None
    return ray


class RayExecutor:
    """Reads a batch's pages on the Ray cluster at ``address`` (``batch.Executor``).

    The same records, in the same order, as a local scan (``batch.BatchScanner``), each
    given as soon as it and every page before it are done. ``address`` "local" starts a Ray
    on this machine; anything else is passed to ``ray.init(address=...)`` ("auto",
    "host:6379", "ray://head:10001"). A Ray this process is already connected to is used as
    it is. Ray is left as it was found: one started or connected to here is shut down at
    the end. Ray has no page time limit; its own workers are its jobs.

    Each page is read on the cluster: this machine and every node must see the files at the
    paths given (a shared file system; relative paths are read from the workers' working
    directory), and every node must have notes-ocr installed. ``scanner``, its model
    loaded here, is sent to the actors.
    """

    def __init__(self, address: str, scanner: Scanner) -> None:
        self.ray = import_ray()
        self.address = address
        self.scanner = scanner

    def scan(self, items: Iterable[PageTask | Page]) -> Iterator[ScannedPage]:
        """The finished pages of ``items`` (from ``batch.plan_pages``), in order."""
        plan = list(items)
        pages = _stream_pages(self.ray, plan, self.address, self.scanner)
        return (ScannedPage(page) for page in pages)


def scan_on_ray(
    paths: list[Path],
    address: str,
    model: Path | None = None,
    min_confidence: float = 0.0,
    max_pixels: int | None = MAX_PIXELS,
    digits_only: bool = False,
) -> Iterator[Page]:
    """The records of every page of ``paths``, read on the Ray cluster at ``address`` (see
    ``RayExecutor``), in order: those of ``batch.BatchScan(paths, ScanOptions(ray=address,
    ...)).pages()``. A missing or damaged model fails at once."""
    scanner = Scanner(Recognizer.load(model), min_confidence, max_pixels, digits_only)
    executor = RayExecutor(address, scanner)
    return (scanned.record for scanned in executor.scan(plan_pages(paths)))


def _stream_pages(
    ray: Any, plan: list[PageTask | Page], address: str, scanner: Scanner,
) -> Iterator[Page]:
    """scan_on_ray's generator: connects only once the first record is asked for."""
    if not plan:
        return  # nothing to read: no reason to start or reach a cluster
    started = connect(address)
    try:
        dataset = _build_dataset(plan, scanner)
        # Ray Data's progress bars and the log lines of every run would land among the
        # CLI's one-line messages on stderr; its warnings still do.
        dataset.context.enable_progress_bars = False
        with log_level("ray.data", logging.WARNING):
            for row in in_input_order(dataset.iter_rows(), len(plan)):
                yield Page.from_dict(row)
    finally:
        if started:
            ray.shutdown()


@contextlib.contextmanager
def log_level(name: str, level: int) -> Iterator[None]:
    """Set a logger's level for the duration, then put the old one back."""
    logger = logging.getLogger(name)
    previous = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(previous)


def connect(address: str) -> bool:
    """Connect to Ray at ``address``, "local" starting one here; True if this call did so.

    A process already connected keeps its connection (and the caller its duty to end it).
    """
    ray = import_ray()
    if ray.is_initialized():
        return False
    # Worker output would land among the records and messages of the CLI.
    quiet = {"log_to_driver": False, "logging_level": logging.WARNING}
    try:
        if address == "local":
            ray.init(num_cpus=default_jobs(), include_dashboard=False, **quiet)
        else:
            ray.init(address=address, **quiet)
    except ConnectionError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NotesOcrError(f"cannot connect to Ray at {address}: {reason}") from None
    return True


def page_dataset(
    paths: Iterable[str | os.PathLike],
    model: Path | None = None,
    min_confidence: float = 0.0,
    max_pixels: int | None = MAX_PIXELS,
    digits_only: bool = False,
) -> ray.data.Dataset:
    """A Ray Data dataset of the page records of ``paths``, one row a page, for your own pipeline.

    Each row is a page's record as in ``Page.to_dict()`` (the JSONL record: source, page,
    width, height, lines, error) and its ``index``, the page's position among all the
    inputs' pages. Rows come as pages complete, not in input order: ``dataset.sort("index")``
    restores it, and ``Page.from_dict`` turns a row back into a ``Page``. Nothing runs
    until the dataset is consumed, on the Ray this process is connected to (Ray Data starts
    a local one if there is none).
    """
    import_ray()
    scanner = Scanner(Recognizer.load(model), min_confidence, max_pixels, digits_only)
    return _build_dataset(plan_pages(paths), scanner)


def _build_dataset(plan: list[PageTask | Page], scanner: Scanner) -> ray.data.Dataset:
    """pages to read -> read and segment (tasks) -> classify (actors) -> records, lazily."""
    ray = import_ray()
    items = [{"index": index, "item": item} for index, item in enumerate(plan)]
    # One block a page, so that every page, even of one long PDF, has a task of its own.
    dataset = ray.data.from_items(items, override_num_blocks=max(1, len(items)))
    dataset = dataset.map(prepare_row, fn_kwargs={"max_pixels": scanner.max_pixels})
    return dataset.map_batches(
        PageClassifier,
        fn_constructor_kwargs={"scanner": scanner},
        batch_size=PAGES_PER_BATCH,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(min_size=1, max_size=MAX_CLASSIFIERS),
    )


def prepare_row(row: Mapping[str, Any], max_pixels: int | None = MAX_PIXELS) -> dict[str, Any]:
    """Read and segment a page of the plan (a task); a record in the plan passes through.

    Every failure becomes the page's record (``batch.prepare_task``), never the run's end;
    a page over ``max_pixels`` is refused from its header.
    """
    item = row["item"]
    if isinstance(item, Page):
        prepared = Prepared(None, record=item)
    else:
        prepared = prepare_task(item, max_pixels=max_pixels)
    return {"index": row["index"], "item": prepared}


class PageClassifier:
    """Ray Data actor: finishes a batch of pages with its own copy of the model.

    The candidates of all the batch's pages are classified together, exactly as a local
    batch scan does (``BatchScanner.finish``), so the records are the same bit for bit.
    """

    def __init__(self, scanner: Scanner) -> None:
        self.batch = BatchScanner(scanner, jobs=1)

    def __call__(self, batch: dict[str, np.ndarray]) -> pyarrow.Table:
        finished = self.batch.finish(list(batch["item"]))
        records = [scanned.record.to_dict() for scanned in finished]
        for record, index in zip(records, batch["index"], strict=True):
            record["index"] = int(index)
        return records_table(records)


def records_table(records: list[dict[str, Any]]) -> pyarrow.Table:
    """Page records as a table with one fixed schema, whatever the batch holds.

    Inferred types would differ between batches (an all-null ``error``, empty ``lines``),
    which later steps of a user's pipeline, writing Parquet for one, do not all accept.
    """
    return _pyarrow().Table.from_pylist(records, schema=record_schema())


def record_schema() -> pyarrow.Schema:
    """The Arrow schema of a dataset row: the page's index, then the fields of ``Page``'s
    record (``Page.to_dict()``), derived from the record classes themselves."""
    pa = _pyarrow()
    return pa.schema([("index", pa.int64()), *_arrow_type(Page).fields])


def _arrow_type(hint: Any) -> pyarrow.DataType:
    """The Arrow type of a record field's type: a record class is a struct of its fields."""
    pa = _pyarrow()
    if dataclasses.is_dataclass(hint):
        hints = typing.get_type_hints(hint)
        return pa.struct([(f.name, _arrow_type(hints[f.name])) for f in dataclasses.fields(hint)])
    arguments = [argument for argument in typing.get_args(hint) if argument is not type(None)]
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):  # X | None: nullable, as Arrow's all are
        return _arrow_type(arguments[0])
    if origin in (list, tuple):  # list[Line], and Box: four ints
        return pa.list_(_arrow_type(arguments[0]))
    return {str: pa.string(), int: pa.int64(), float: pa.float64()}[hint]


def _pyarrow() -> Any:
    import pyarrow  # comes with ray[data]; imported here so the module imports without it

    return pyarrow


def in_input_order(rows: Iterable[Mapping[str, Any]], count: int) -> Iterator[Mapping]:
    """Rows in ``index`` order, each given as soon as every row before it is in.

    Raises RuntimeError if the stream ends with pages missing, rather than stop short.
    """
    waiting: dict[int, Mapping[str, Any]] = {}
    expected = 0
    for row in rows:
        waiting[int(row["index"])] = row
        while expected in waiting:
            yield waiting.pop(expected)
            expected += 1
    if expected != count:
        raise RuntimeError(f"Ray returned {expected} of {count} pages in order and "
                           f"{len(waiting)} after a missing one")

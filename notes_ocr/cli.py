"""The ``notes-ocr`` command: a thin shell over the library.

Each command is its arguments made options, one library call (``batch.BatchScan`` for
``scan``, ``training.train``, ``training.evaluate``) and an exit code (``ExitCode``).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from collections.abc import Iterator
from enum import IntEnum
from pathlib import Path

from notes_ocr.errors import NotesOcrError
from notes_ocr.options import MAX_PIXELS, PAGE_TIMEOUT


class ExitCode(IntEnum):
    """What ``notes-ocr`` exits with."""

    OK = 0  # every page was read
    FAILED = 1  # some input failed, or the model or an output could not be used
    USAGE = 2  # a usage error (argparse's own, or an output that would overwrite an input)
    INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    with native_stderr_silenced() if args.command == "scan" else contextlib.nullcontext():
        try:
            return args.run(args)
        except NotesOcrError as exc:
            print(f"notes-ocr: error: {exc}", file=sys.stderr)
            return ExitCode.FAILED
        except KeyboardInterrupt:
            print("notes-ocr: interrupted", file=sys.stderr)
            return ExitCode.INTERRUPTED
        except BrokenPipeError:
            # The reader went away (`notes-ocr scan ... | head`): stop quietly, as Unix tools
            # do, and keep Python from complaining again when it flushes stdout at exit.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return ExitCode.FAILED


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Keep what native libraries print on their own off stderr, which carries one line a
    failed file: libpng and libjpeg write warnings such as "libpng error: Not enough image
    data" straight to file descriptor 2, in this process and in the workers it starts.

    Descriptor 2 goes to /dev/null for the duration, while Python's ``sys.stderr``, and so
    every message of ours, goes on to the real stderr through a copy of the descriptor.
    Nothing is done when ``sys.stderr`` is not descriptor 2 (captured in a test).
    """
    try:
        redirect = sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):
        redirect = False
    if not redirect:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    original = sys.stderr
    sys.stderr = io.TextIOWrapper(os.fdopen(os.dup(saved), "wb"), encoding=original.encoding,
                                  errors="backslashreplace", write_through=True)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    os.close(null)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        sys.stderr.close()
        sys.stderr = original


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="notes-ocr", description="Read handwritten digit strings off scanned notes."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    scan = commands.add_parser(
        "scan", help="read the digit lines of images and folders",
        description="Read the digit lines of image files, folders (walked recursively) and "
        "glob patterns. Pages are read in worker processes; records come out in input order.",
    )
    scan.add_argument("paths", nargs="+", metavar="PATH",
                      help="image or PDF files, folders, or glob patterns such as 'scans/**/*.tif'")
    scan.add_argument("--format", choices=("text", "jsonl", "json", "csv"), default=None,
                      help="output format (default: from the -o file's suffix, else text)")
    scan.add_argument("-o", "--output", type=Path, help="write results here, not stdout")
    scan.add_argument("--model", type=Path, help="a model file or folder (default: shipped)")
    scan.add_argument("--min-confidence", type=probability, default=0.0, metavar="P",
                      help="write digits and separators read with less confidence than P "
                           "as '?'")
    scan.add_argument("--digits-only", action="store_true",
                      help="digits and spaces alone (12 05 2019), without the separators "
                           "read inside numbers (12/05/2019)")
    scan.add_argument("-j", "--jobs", type=positive_int, default=None, metavar="N",
                      help="worker processes reading pages (default: one per CPU)")
    scan.add_argument("--resume", action="store_true",
                      help="go on with the JSON Lines file -o names: skip the pages it holds")
    scan.add_argument("-q", "--quiet", action="store_true",
                      help="no progress bar and no summary line; errors are still reported")
    scan.add_argument("--annotate", type=Path, metavar="DIR",
                      help="write each page with what was read drawn over it, as JPEGs here")
    scan.add_argument("--report", type=Path, metavar="FILE",
                      help="write an HTML page of the batch: thumbnails, lines, failed files")
    scan.add_argument("--ray", metavar="ADDRESS",
                      help="scan on a Ray cluster ('local', 'auto', 'host:6379', 'ray://...'); "
                      "needs notes-ocr[ray]")
    scan.add_argument("--max-pixels", type=pixel_count, default=MAX_PIXELS,
                      metavar="N", help="refuse pages of more than N pixels, from their "
                      "headers, before decoding them (default: 100e6; 0: no limit)")
    scan.add_argument("--page-timeout", type=seconds, default=PAGE_TIMEOUT,
                      metavar="SECONDS", help="give up a page still being read after this "
                      "long: it is reported as failed and the batch goes on (default: "
                      f"{PAGE_TIMEOUT:g}; 0: no limit)")
    scan.set_defaults(run=run_scan, parser=scan)

    train = commands.add_parser("train", help="train the recogniser on MNIST")
    train.add_argument("--hidden", type=parse_hidden, default=None,
                       help="hidden layer sizes, e.g. 1536,1536")
    train.add_argument("--dropout", type=float, default=None)
    train.add_argument("--epochs", type=int, default=None)
    train.add_argument("--batch-size", type=int, default=None)
    train.add_argument("--learning-rate", type=float, default=None)
    train.add_argument("--seed", type=int, default=None)
    train.add_argument("--no-augment", action="store_true", help="train on plain MNIST")
    train.add_argument("--limit", type=int, default=None,
                       help="use only the first N training digits (quick trials)")
    train.add_argument("--mnist", type=Path, help="path to mnist.npz")
    train.add_argument("--out", type=Path, default=Path("model"), help="output folder")
    train.set_defaults(run=run_train)

    evaluate = commands.add_parser("eval", help="MNIST test accuracy and confusion matrix")
    evaluate.add_argument("--model", type=Path, help="a model file or folder (default: shipped)")
    evaluate.add_argument("--engine", choices=("numpy", "keras"), default="keras")
    evaluate.add_argument("--mnist", type=Path, help="path to mnist.npz")
    evaluate.set_defaults(run=run_eval)
    return parser


def probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def pixel_count(text: str) -> int | None:
    """A pixel limit, as a whole number or like 100e6; 0 is no limit (None)."""
    value = limit(text, "a number of pixels such as 100e6", whole=True)
    return int(value) or None


def seconds(text: str) -> float | None:
    """A time limit in seconds; 0 is no limit (None)."""
    return limit(text, "a number of seconds") or None


def limit(text: str, expected: str, whole: bool = False) -> float:
    """A finite number, 0 or more (a whole one if ``whole``), or argparse's error."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf") or (whole and value != int(value)):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def parse_hidden(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 1024,1024, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"layer sizes must be positive, got {text!r}")
    return sizes


def run_scan(args: argparse.Namespace) -> int:
    from notes_ocr.batch import BatchScan, Progress
    from notes_ocr.options import ScanOptions
    from notes_ocr.results import format_for, printable

    fmt = args.format or format_for(args.output)
    check_scan_options(args, fmt)
    options = ScanOptions(jobs=args.jobs, page_timeout=args.page_timeout,
                          min_confidence=args.min_confidence, max_pixels=args.max_pixels,
                          model=args.model, ray=args.ray, digits_only=args.digits_only)
    scan = BatchScan(args.paths, options)
    check_outputs_spare_inputs(args, scan.plan)  # before --resume may cut a torn line off -o
    if args.resume:
        scan.resume(args.output)
    sinks = make_sinks(args, fmt, scan)
    progress = Progress(len(scan.todo), sys.stderr, enabled=not args.quiet)
    try:
        with contextlib.closing(scan.pages(sinks)) as pages:
            for page in pages:
                if page.error:
                    progress.write(f"notes-ocr: error: {printable(page.error.message)}")
                progress.update()
    finally:
        progress.close()
    problems = [problem for sink in sinks for problem in getattr(sink, "errors", [])]
    for problem in problems:
        print(f"notes-ocr: error: {printable(problem)}", file=sys.stderr)
    if not args.quiet:
        print(f"notes-ocr: {scan.summary_line()}", file=sys.stderr)
    return ExitCode.FAILED if scan.failed or problems else ExitCode.OK


def make_sinks(args: argparse.Namespace, fmt: str, scan) -> list:  # scan: batch.BatchScan
    """Where the pages go: the results (``-o``, or standard output), the drawings of
    ``--annotate`` (named by their place under the inputs' folder) and the ``--report``."""
    from notes_ocr.batch import PageTask
    from notes_ocr.results import RecordsFile

    sinks: list = [RecordsFile(args.output, fmt, append=scan.earlier is not None,
                               many_pages=len(scan.plan) > 1)]
    try:
        if args.annotate:
            from notes_ocr.annotate import Annotator, input_root

            root = input_root([item.source for item in scan.plan if isinstance(item, PageTask)])
            sinks.append(Annotator(args.annotate, root, max_pixels=args.max_pixels))
        if args.report:
            from notes_ocr.report import HtmlReport

            sinks.append(HtmlReport(args.report))
    except BaseException:
        for sink in sinks:
            sink.discard()
        raise
    return sinks


def check_outputs_spare_inputs(args: argparse.Namespace, plan: list) -> None:
    """A usage error (exit 2) if -o, --report or a drawing --annotate would write is one of
    the input files (through a link or a second name too): inputs are never written over."""
    from notes_ocr.annotate import annotated_name, input_root
    from notes_ocr.batch import PageTask
    from notes_ocr.results import Page

    inputs = {identity for item in plan if (identity := file_identity(Path(item.source)))}
    if not inputs:
        return
    for option, path in [("-o", args.output), ("--report", args.report)]:
        if path is not None and file_identity(path) in inputs:
            args.parser.error(f"{option} {path} is one of the input files; it would be "
                              "overwritten: name another file")
    if args.annotate:
        tasks = [item for item in plan if isinstance(item, PageTask)]
        root = input_root([task.source for task in tasks])
        for task in tasks:
            target = args.annotate / annotated_name(Page(task.source, task.page, 0, 0), root)
            if file_identity(target) in inputs:
                args.parser.error(f"--annotate would write {target}, which is one of the input "
                                  "files: name another folder")


def file_identity(path: Path) -> tuple[int, int] | None:
    """What tells a file from every other (device and inode), or None if it is not there."""
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    return (info.st_dev, info.st_ino)


def check_scan_options(args: argparse.Namespace, fmt: str) -> None:
    """Usage errors that argparse cannot see alone (exit 2)."""
    parser = args.parser
    if args.resume and args.output is None:
        parser.error("--resume needs -o FILE: the results file to go on with")
    if args.resume and fmt != "jsonl":
        parser.error(f"--resume needs the jsonl format (one record a line), not {fmt}")
    if args.ray is not None and (args.annotate or args.report):
        parser.error("--annotate and --report need the page images, which stay on the "
                     "cluster with --ray")


def run_train(args: argparse.Namespace) -> int:
    from notes_ocr import training

    given = {
        "hidden": args.hidden,
        "dropout": args.dropout,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "seed": args.seed,
        "limit": args.limit,
    }
    config = training.TrainConfig(**{k: v for k, v in given.items() if v is not None})
    if args.no_augment:
        config.augment = False
    path = training.train(config, args.out, mnist_path=args.mnist)
    print(f"saved {path} and {path.with_suffix('.npz')}")
    return ExitCode.OK


def run_eval(args: argparse.Namespace) -> int:
    from notes_ocr import training

    result = training.evaluate(args.model, mnist_path=args.mnist, engine=args.engine)
    print(f"MNIST test accuracy: {result.accuracy:.4f}")
    print(training.format_confusion(result.confusion))
    return ExitCode.OK


if __name__ == "__main__":
    sys.exit(main())

"""The ``notes-ocr`` command: a thin shell over the library.

Exit codes: 0 every page was read, 1 some input failed (or the model or an output file
could not be used: one line says why), 2 usage error (argparse's own, and an output that
would overwrite an input).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from notes_ocr.errors import NotesOcrError
from notes_ocr.options import MAX_PIXELS, PAGE_TIMEOUT

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    with native_stderr_silenced() if args.command == "scan" else contextlib.nullcontext():
        try:
            return args.run(args)
        except NotesOcrError as exc:
            print(f"notes-ocr: error: {exc}", file=sys.stderr)
            return EXIT_FAILED
        except KeyboardInterrupt:
            print("notes-ocr: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:
            # The reader went away (`notes-ocr scan ... | head`): stop quietly, as Unix tools
            # do, and keep Python from complaining again when it flushes stdout at exit.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return EXIT_FAILED


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
                      help="write digits read with less confidence than P as '?'")
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
    from notes_ocr import batch
    from notes_ocr.results import PageWriter, format_for, printable
    from notes_ocr.sources import quiet_opencv

    fmt = args.format or format_for(args.output)
    check_scan_options(args, fmt)
    quiet_opencv()
    plan = batch.plan_pages(args.paths)
    check_outputs_spare_inputs(args, plan)
    earlier = batch.recover_jsonl(args.output) if args.resume else None
    todo = [item for item in plan if earlier is None or not earlier.take(item)]
    pages = scan_local(args, todo) if args.ray is None else scan_on_ray(args, todo)
    annotator = make_annotator(args, plan) if args.annotate else None

    summary = batch.Summary()
    progress = batch.Progress(len(todo), sys.stderr, enabled=not args.quiet)
    try:
        with (open_output(args.output, fmt, append=earlier is not None) as stream,
              open_report(args.report) as report):
            writer = PageWriter(stream, fmt, many_pages=len(plan) > 1)
            for scanned in pages:
                page = scanned.record
                if page.error:
                    progress.write(f"notes-ocr: error: {printable(page.error.message)}")
                writer.write(page)
                summary.add(page)
                if annotator:
                    annotator.add(page)
                if report:
                    report.add(page, scanned.thumbnail)
                progress.update()
            writer.close()
            line = summary.line(earlier)
            if report:
                report.close(line)
    finally:
        progress.close()
        if annotator:
            annotator.close()
    problems = annotator.errors if annotator else []
    for problem in problems:
        print(f"notes-ocr: error: {printable(problem)}", file=sys.stderr)
    if not args.quiet:
        print(f"notes-ocr: {line}", file=sys.stderr)
    failed = summary.failed_sources or problems or (earlier and earlier.failed_sources)
    return EXIT_FAILED if failed else EXIT_OK


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


def make_annotator(args: argparse.Namespace, plan: list):  # -> annotate.Annotator
    """The writer of annotated pages, naming them by their place under the inputs' folder."""
    from notes_ocr.annotate import Annotator, input_root
    from notes_ocr.batch import PageTask

    root = input_root([item.source for item in plan if isinstance(item, PageTask)])
    return Annotator(args.annotate, root, max_pixels=args.max_pixels)


def open_report(path: Path | None):  # -> context of report.HtmlReport, or of None
    """The HTML report (``report.HtmlReport``), or nothing when none is asked for."""
    if path is None:
        return contextlib.nullcontext()
    from notes_ocr.report import HtmlReport

    return HtmlReport(path)


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


def open_output(path: Path | None, fmt: str, append: bool):  # -> context of IO[str]
    """The results' stream: stdout, or ``-o``'s file (``results.output_file``)."""
    from notes_ocr.results import output_file

    if path is None:
        return contextlib.nullcontext(sys.stdout)
    return output_file(path, fmt, append)


def scan_local(args: argparse.Namespace, todo: list) -> Iterator:
    """Pages scanned here, by ``--jobs`` worker processes."""
    from notes_ocr.batch import THUMBNAIL_SIZE, BatchScanner
    from notes_ocr.pipeline import Scanner
    from notes_ocr.recognizer import Recognizer

    scanner = Scanner(Recognizer.load(args.model), args.min_confidence, args.max_pixels)
    thumbnails = THUMBNAIL_SIZE if args.report else 0
    batch = BatchScanner(scanner, args.jobs, thumbnail_size=thumbnails,
                         page_timeout=args.page_timeout)
    return batch.scan(todo)


def scan_on_ray(args: argparse.Namespace, todo: list) -> Iterator:
    """Pages scanned on the Ray cluster at ``--ray``: those of ``todo`` alone.

    Ray reads whole files; pages of a file that an earlier run recorded are dropped here.
    """
    from notes_ocr.batch import ResumeState, ScannedPage, page_key
    from notes_ocr.cluster import scan_on_ray as scan_files

    # Counted off as --resume counts off the pages an earlier run recorded.
    wanted = ResumeState(recorded=Counter(page_key(item.source, item.page) for item in todo))
    files = list(dict.fromkeys(Path(item.source) for item in todo))
    # Called here, not on the first page, so that a missing Ray fails before any output.
    pages = scan_files(files, args.ray, args.model, args.min_confidence,
                       args.max_pixels) if files else iter(())
    return (ScannedPage(page) for page in pages if wanted.take(page))


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
    return EXIT_OK


def run_eval(args: argparse.Namespace) -> int:
    from notes_ocr import training

    result = training.evaluate(args.model, mnist_path=args.mnist, engine=args.engine)
    print(f"MNIST test accuracy: {result.accuracy:.4f}")
    print(training.format_confusion(result.confusion))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

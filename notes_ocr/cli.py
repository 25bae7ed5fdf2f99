"""The ``notes-ocr`` command: a thin shell over the library.

Exit codes: 0 every page was read, 1 some input failed, 2 usage error (argparse's own).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import IO

from notes_ocr.errors import NotesOcrError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
    from notes_ocr.results import PageWriter, format_for

    fmt = args.format or format_for(args.output)
    check_scan_options(args, fmt)
    quiet_opencv()
    earlier = batch.recover_jsonl(args.output) if args.resume else None
    plan = batch.plan_pages(args.paths)
    todo = [item for item in plan if earlier is None or not earlier.take(item)]
    pages = scan_local(args, todo) if args.ray is None else scan_on_ray(args, todo)
    annotator = make_annotator(args.annotate, plan) if args.annotate else None
    report = make_report(args.report) if args.report else None

    summary = batch.Summary()
    progress = batch.Progress(len(todo), sys.stderr, enabled=not args.quiet)
    try:
        with open_output(args.output, append=earlier is not None) as stream:
            writer = PageWriter(stream, fmt, many_pages=len(plan) > 1)
            for scanned in pages:
                page = scanned.record
                if page.error:
                    progress.write(f"notes-ocr: error: {page.error.message}")
                writer.write(page)
                summary.add(page)
                if annotator:
                    annotator.add(page)
                if report:
                    report.add(page, scanned.thumbnail)
                progress.update()
            writer.close()
    finally:
        progress.close()
        if annotator:
            annotator.close()
    problems = annotator.errors if annotator else []
    for problem in problems:
        print(f"notes-ocr: error: {problem}", file=sys.stderr)
    line = summary.line(earlier)
    if report:
        report.close(line)
    if not args.quiet:
        print(f"notes-ocr: {line}", file=sys.stderr)
    failed = summary.failed_sources or problems or (earlier and earlier.failed_sources)
    return EXIT_FAILED if failed else EXIT_OK


def make_annotator(folder: Path, plan: list):  # -> annotate.Annotator
    """The writer of annotated pages, naming them by their place under the inputs' folder."""
    from notes_ocr.annotate import Annotator, input_root
    from notes_ocr.batch import PageTask

    return Annotator(folder, input_root([it.source for it in plan if isinstance(it, PageTask)]))


def make_report(path: Path):  # -> report.HtmlReport
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


def quiet_opencv() -> None:
    """Keep OpenCV's own messages about damaged files off stderr: ours say it in one line."""
    import cv2

    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


def open_output(path: Path | None, append: bool) -> IO[str] | nullcontext:
    if path is None:
        return nullcontext(sys.stdout)
    try:
        return open(path, "a" if append else "w", encoding="utf-8", newline="")
    except OSError as exc:
        raise NotesOcrError(f"{path}: cannot write the results ({exc.strerror})") from None


def scan_local(args: argparse.Namespace, todo: list) -> Iterator:
    """Pages scanned here, by ``--jobs`` worker processes."""
    from notes_ocr.batch import THUMBNAIL_SIZE, BatchScanner
    from notes_ocr.pipeline import Scanner
    from notes_ocr.recognizer import Recognizer

    scanner = Scanner(Recognizer.load(args.model), args.min_confidence)
    thumbnails = THUMBNAIL_SIZE if args.report else 0
    return BatchScanner(scanner, args.jobs, thumbnail_size=thumbnails).scan(todo)


def scan_on_ray(args: argparse.Namespace, todo: list) -> Iterator:
    """Pages scanned on the Ray cluster at ``--ray``: those of ``todo`` alone.

    Ray reads whole files; pages of a file that an earlier run recorded are dropped here.
    """
    from notes_ocr.batch import ScannedPage, page_key
    from notes_ocr.cluster import scan_on_ray as scan_files

    wanted = Counter(page_key(item.source, item.page) for item in todo)
    files = list(dict.fromkeys(Path(item.source) for item in todo))
    # Called here, not on the first page, so that a missing Ray fails before any output.
    pages = scan_files(files, args.ray, args.model, args.min_confidence) if files else iter(())
    return (ScannedPage(page) for page in pages if take(wanted, page_key(page.source, page.page)))


def take(counts: Counter, key: tuple[str, int]) -> bool:
    """Whether ``key`` is still wanted in ``counts``, counting it off if so."""
    if counts[key] > 0:
        counts[key] -= 1
        return True
    return False


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

"""The ``notes-ocr`` command: a thin shell over the library.

Exit codes: 0 every page was read, 1 some input failed, 2 usage error (argparse's own).
"""

from __future__ import annotations

import argparse
import sys
from contextlib import nullcontext
from pathlib import Path

from notes_ocr.errors import NotesOcrError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
MULTI_PAGE = (".pdf", ".tif", ".tiff")


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="notes-ocr", description="Read handwritten digit strings off scanned notes."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    scan = commands.add_parser("scan", help="read the digit lines of images and folders")
    scan.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders")
    scan.add_argument("--format", choices=("text", "jsonl", "json", "csv"), default="text")
    scan.add_argument("-o", "--output", type=Path, help="write results here, not stdout")
    scan.add_argument("--model", type=Path, help="a model file or folder (default: shipped)")
    scan.add_argument("--min-confidence", type=probability, default=0.0, metavar="P",
                      help="write digits read with less confidence than P as '?'")
    scan.set_defaults(run=run_scan)

    train = commands.add_parser("train", help="train the recogniser on MNIST")
    train.add_argument("--hidden", type=parse_hidden, default=None,
                       help="hidden layer sizes, e.g. 1024,1024")
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


def parse_hidden(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 1024,1024, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"layer sizes must be positive, got {text!r}")
    return sizes


def run_scan(args: argparse.Namespace) -> int:
    from notes_ocr.pipeline import Scanner
    from notes_ocr.recognizer import Recognizer
    from notes_ocr.results import PageWriter
    from notes_ocr.sources import list_inputs

    recognizer = Recognizer.load(args.model)
    scanner = Scanner(recognizer, args.min_confidence)
    inputs = list_inputs(args.paths)
    output = (
        open(args.output, "w", encoding="utf-8", newline="")
        if args.output
        else nullcontext(sys.stdout)
    )
    failed = 0
    with output as stream:
        # One file may hold several pages too (PDF, TIFF): each page then gets its header.
        many_pages = len(inputs) > 1 or any(p.suffix.lower() in MULTI_PAGE for p in inputs)
        writer = PageWriter(stream, args.format, many_pages=many_pages)
        for page in scanner.scan_paths(inputs):
            if page.error:
                failed += 1
                print(f"notes-ocr: error: {page.error.message}", file=sys.stderr)
            writer.write(page)
        writer.close()
    return EXIT_FAILED if failed else EXIT_OK


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

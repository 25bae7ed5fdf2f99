"""Where the reading breaks: one condition of the page changed at a time.

    python -m benchmarks.conditions [--pages 8] [--only NAME ...] [--json PATH]

The page benchmark mixes conditions as they come on real notes; this one holds a plain
scan of ruled paper fixed and changes one thing at a time (digit size, pen width, blur,
noise, slant, tilt, pencil, shadow, specks, touching and broken digits, a phone photo), so
a weakness shows up by name. Each condition is scored on the same ``--pages`` seeds, half
of them MNIST test digits and half the second hand ("script"), JPEG-compressed at quality
90 like a scanner's output, read in-process by `Scanner.scan_array`.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from notes_ocr import Scanner
from notes_ocr.mnist import load_mnist
from notes_ocr.testing.conditions import CONDITIONS, score_condition


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=8, help="pages per condition, half "
                        "in each hand")
    parser.add_argument("--only", nargs="+", choices=list(CONDITIONS), metavar="NAME",
                        help="score only these conditions")
    parser.add_argument("--json", type=Path, help="write the numbers to this JSON file")
    args = parser.parse_args(argv)
    if args.pages < 1:
        parser.error("--pages must be at least 1")
    began = time.perf_counter()
    mnist, scanner = load_mnist(), Scanner()
    print("| condition | CER | exact lines | CER, MNIST digits | CER, second hand |")
    print("|---|---|---|---|---|")
    numbers = {}
    for name in args.only or CONDITIONS:
        scores = score_condition(CONDITIONS[name], args.pages, scanner, mnist)
        print(f"| {name} | {scores['all'].cer:.2%} | {scores['all'].exact_line_rate:.1%} | "
              f"{scores['mnist'].cer:.2%} | {scores['script'].cer:.2%} |", flush=True)
        numbers[name] = {style: {"cer": score.cer, "exact_lines": score.exact_line_rate}
                         for style, score in scores.items()}
    print(f"\n{args.pages} pages per condition; benchmark run time: "
          f"{time.perf_counter() - began:.0f} s")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"pages": args.pages, "conditions": numbers}, indent=2))


if __name__ == "__main__":
    main()

"""Fuzzing the entry points: hostile bytes and arrays in, only the project's own errors out.

    python -m benchmarks.fuzz [--examples 3000] [--seed 0] [--only NAME ...]

Each target is an entry point that takes what a user (or an attacker) hands the tool, fed
by hypothesis: random bytes, bytes that start like an image or a PDF and go on at random,
real small images of every format with bytes flipped, cut, inserted or deleted (the header
often, where the sizes are); arrays of every shape (0-d to 4-d, empty, thin strips) and
dtype (bool, int8, uint16, int32, float16 with nan and inf, complex, object, strings);
JSON Lines files for ``--resume``; model files. The one property: what comes out is a
result or a NotesOcrError with a one-line message, never another exception (let alone a
crash), and a page read from an array is never an InternalError record.

Prints, for each target, the examples run and how they came out; exits 1 if any failed,
after printing the smallest failing example hypothesis found. ``tests/test_fuzz.py`` runs
the same targets on a small fixed budget in the test suite.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback

from notes_ocr.sources import quiet_opencv
from notes_ocr.testing.fuzz import TARGETS, fuzz


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=3000, help="examples per target")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", nargs="+", choices=[t.name for t in TARGETS])
    args = parser.parse_args(argv)
    quiet_opencv()
    failed = False
    for target in TARGETS:
        if args.only and target.name not in args.only:
            continue
        started = time.perf_counter()
        try:
            outcomes = fuzz(target, args.examples, args.seed)
        except Exception:
            failed = True
            print(f"{target.name}: FAILED", flush=True)
            traceback.print_exc(file=sys.stdout)
            continue
        seconds = time.perf_counter() - started
        counts = ", ".join(f"{name} {count}" for name, count in outcomes.most_common())
        print(f"{target.name}: {sum(outcomes.values())} examples in {seconds:.0f} s, "
              f"no failure ({counts})", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

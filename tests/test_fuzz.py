"""Fuzzing the entry points on a small fixed budget: only the project's own errors come out.

The targets and what they are fed are in ``notes_ocr/testing/fuzz.py``;
``benchmarks/fuzz.py`` runs them far longer (its counts are in benchmarks/RESULTS.md).
Here the examples are derandomized, the same on every run, so that the suite never fails
by chance; the benchmark explores new ones.
"""

import pytest

from notes_ocr.testing.fuzz import TARGETS, Target, fuzz

# Examples per target: the whole file takes some seconds.
BUDGET = {"decode": 1000, "scan_array": 300, "resume": 300, "model": 300}


@pytest.mark.parametrize("target", TARGETS, ids=[target.name for target in TARGETS])
def test_only_our_own_errors_come_out(target: Target):
    outcomes = fuzz(target, BUDGET[target.name], derandomize=True)
    assert sum(outcomes.values()) >= BUDGET[target.name] // 2
    assert len(outcomes) >= 2  # both refused and accepted inputs were reached

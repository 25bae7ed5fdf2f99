"""The benchmark's scores: edit distance and the page rates built on it."""

import pytest

from notes_ocr.testing.metrics import Score, SeparatorScore, align, levenshtein


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [("", "", 0), ("123", "123", 0), ("123", "", 3), ("", "45", 2), ("1234", "1224", 1),
     ("12 34", "1234", 1), ("0142", "1420", 2), ("kitten", "sitting", 3)],
)
def test_levenshtein(a, b, distance):
    assert levenshtein(a, b) == distance == levenshtein(b, a)


def test_score_rates_over_pages():
    score = Score()
    score.add(["12 03", "555"], ["12 03", "556"])  # one wrong digit
    score.add([], ["7"])  # a page read as blank
    assert score.char_errors == 2 and score.chars == len("12 03\n556") + 1
    assert score.digit_errors == 2 and score.digits == 8
    assert score.lines_exact == 1 and score.lines == 3
    assert score.pages_exact == 0 and score.pages == 2
    assert score.cer == pytest.approx(2 / 10)


@pytest.mark.parametrize(("a", "b"), [("", ""), ("123", "123"), ("1234", "1224"), ("12", "0142"),
                                      ("0142", "1420"), ("kitten", "sitting"), ("5", "")])
def test_align_pairs_every_character_once_at_the_edit_distance(a, b):
    pairs = align(a, b)
    assert [i for i, _ in pairs if i is not None] == list(range(len(a)))
    assert [j for _, j in pairs if j is not None] == list(range(len(b)))
    cost = sum(i is None or j is None or a[i] != b[j] for i, j in pairs)
    assert cost == levenshtein(a, b)


def test_separators_are_counted_where_they_align():
    score = SeparatorScore()
    score.add(["12/05/2019", "10 30"], ["12/05/2019", "10:30"])  # the colon lost
    score.add(["1.250.00"], ["1.250,00"])  # a comma read as a dot
    score.add(["555-1234", "-"], ["555-1234"])  # a dash read where there is none
    assert (score.matched, score.true, score.read) == (4, 6, 6)
    assert score.recall == 4 / 6 and score.precision == 4 / 6
    assert SeparatorScore().precision == 1.0 and SeparatorScore().recall == 0.0

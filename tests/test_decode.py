"""Putting over-segmented pieces back together into digits (decode.py)."""

import numpy as np
import pytest
from conftest import pen_digit

from notes_ocr import decode
from notes_ocr.decode import Proposal, choose, propose
from notes_ocr.normalize import skeleton_length
from notes_ocr.recognizer import Recognizer
from notes_ocr.segment import (
    Blob,
    blob_of,
    find_pieces,
    label_ink,
    pieces_of,
    pull_apart,
    slanted_cuts,
)

HEIGHT = 60


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer.load()


def read_mask(mask: np.ndarray, recognizer: Recognizer) -> str:
    """The digits the decoder reads off a binary ink mask, left to right."""
    pieces, digit_height = find_pieces(mask)
    proposal = propose(pieces, digit_height)
    labels, confidences, _ = recognizer.interpret(recognizer.predict_proba(proposal.images))
    return "".join(str(labels[c]) for c in choose(proposal, labels, confidences).digits)


def canvas_with(*inks: tuple[np.ndarray, int]) -> np.ndarray:
    """A mask with each (ink, x) pasted at column x, bottoms on one baseline."""
    mask = np.zeros((HEIGHT + 40, 500), bool)
    for ink, x in inks:
        h, w = ink.shape
        mask[20 + HEIGHT - h : 20 + HEIGHT, x : x + w] |= ink
    return mask


def line_around(middle: list[tuple[np.ndarray, int]], mnist) -> np.ndarray:
    """``middle`` (inks at x offsets from 110) between a whole 7 and a whole 2."""
    seven, two = (pen_digit(d, HEIGHT) for d in first_of(mnist, "72"))
    right = max(110 + x + ink.shape[1] for ink, x in middle) + 25
    return canvas_with((seven, 40), *((ink, 110 + x) for ink, x in middle), (two, right))


def touching_offset(first: np.ndarray, second: np.ndarray) -> int:
    """The column where ``second`` starts so that its ink just touches ``first``'s."""
    for x in range(first.shape[1], 0, -1):
        mask = canvas_with((first, 0))
        shifted = canvas_with((second, x))
        grown = np.zeros_like(mask)
        grown[:, 1:] = mask[:, :-1]
        if (grown & shifted).any():
            return x
    return 0


def first_of(mnist, digits: str) -> list[np.ndarray]:
    """MNIST test examples of ``digits``: the first of each, the second when it repeats."""
    return [
        mnist.x_test[np.flatnonzero(mnist.y_test == int(d))[digits[:i].count(d)]]
        for i, d in enumerate(digits)
    ]


def test_touching_digits_are_read_as_two(mnist, recognizer):
    pairs = ["47", "03", "25", "86", "91", "30", "52", "74", "68", "19"]
    right = 0
    for pair in pairs:
        left, second = (pen_digit(d, HEIGHT) for d in first_of(mnist, pair))
        mask = line_around([(left, 0), (second, touching_offset(left, second))], mnist)
        right += read_mask(mask, recognizer) == f"7{pair}2"
    assert right >= 8, f"{right} of {len(pairs)} touching pairs read right"


def test_digits_joined_by_faint_ink_are_read_as_two(mnist, recognizer):
    pairs = ["05", "47", "03", "25", "86", "91", "30", "52", "68", "19"]
    right = 0
    for pair in pairs:
        left, second = (pen_digit(d, HEIGHT) for d in first_of(mnist, pair))
        mask = line_around([(left, 0), (second, left.shape[1] + 4)], mnist)
        # Blur fills the gap where the two come nearest: a bridge five pixels thick, fainter
        # than the strokes but above the weak ink level.
        first_ink = canvas_with((left, 110))
        ends = np.where(first_ink.any(axis=1), 499 - np.argmax(first_ink[:, ::-1], axis=1), -1)
        rest = mask & ~first_ink
        rest[:, : 110 + left.shape[1] - 5] = False
        starts = np.where(rest.any(axis=1), np.argmax(rest, axis=1), 999)
        row = int(np.argmin(starts - ends))
        bridge = np.zeros_like(mask)
        bridge[row - 2 : row + 3, ends[row] - 2 : starts[row] + 3] = True
        darkness = np.where(mask, 220, np.where(bridge, 120, 0)).astype(np.uint8)
        labels, stats, strong = label_ink(darkness)
        assert len(np.unique(labels[bridge])) == 1 and not strong[row, ends[row] + 2]
        # One blob, which erosion alone leaves whole; its strong ink parts it in two.
        pair_label = int(labels[bridge][0])
        blob = blob_of(labels, stats[1:, :4], [pair_label - 1])
        cores = strong[blob.y : blob.y + blob.h, blob.x : blob.x + blob.w] & blob.mask
        assert len(pull_apart(blob, HEIGHT)) == 1
        assert len(pull_apart(blob, HEIGHT, cores)) == 2
        pieces, digit_height = pieces_of(labels, stats, strong)
        proposal = propose(pieces, digit_height)
        digits, confidences, _ = recognizer.interpret(recognizer.predict_proba(proposal.images))
        read = "".join(str(digits[c]) for c in choose(proposal, digits, confidences).digits)
        right += read == f"7{pair}2"
    assert right >= 8, f"{right} of {len(pairs)} pairs joined by faint ink read right"


def test_broken_digits_are_read_as_one(mnist, recognizer):
    digits = "0468023568"
    right = 0
    for char, digit in zip(digits, first_of(mnist, digits), strict=True):
        ink = pen_digit(digit, HEIGHT)
        # A skipping pen: a gap three pixels wide down the middle leaves two pieces.
        middle = ink.shape[1] // 2
        ink[:, middle - 1 : middle + 2] = False
        mask = line_around([(ink, 0)], mnist)
        assert len({piece.source for piece in find_pieces(mask)[0]}) >= 4
        right += read_mask(mask, recognizer) == f"7{char}2"
    assert right >= 8, f"{right} of {len(digits)} broken digits read right"


def test_each_candidate_carries_the_stroke_width_of_its_pieces(mnist):
    # The recut draws a rejected digit's halves at this width, in the process that
    # classifies, where there is no skeleton to measure.
    ink = pen_digit(first_of(mnist, "0")[0], HEIGHT)
    middle = ink.shape[1] // 2
    ink[:, middle - 1 : middle + 2] = False  # two pieces side by side
    proposal = propose(*find_pieces(canvas_with((ink, 40))))
    assert (proposal.stop - proposal.start >= 2).any()
    for c in range(len(proposal.start)):
        members = proposal.pieces[proposal.start[c] : proposal.stop[c]]
        area = sum(int(piece.mask.sum()) for piece in members)
        length = sum(skeleton_length(piece.mask) for piece in members)
        assert proposal.stroke_width[c] == pytest.approx(area / max(length, 1))


def test_a_piece_overlapping_the_columns_before_it_bridges_no_gap():
    # The two halves of a broken 0 overlap in columns; the next digit stands apart.
    def piece(x: int, source: int) -> Blob:
        return Blob(x, 0, 12, 30, np.ones((30, 12), bool), source)

    candidates = decode.line_candidates([piece(0, 1), piece(8, 2), piece(26, 3)], 30.0)
    joins = {(first, last): bridged for first, last, bridged, _ in candidates}
    assert joins[(0, 2)] == 0 and joins[(1, 3)] == 1 and joins[(0, 3)] == 1


def test_a_long_run_of_touching_digits_is_cut_at_every_join(mnist, recognizer):
    # Cheque amounts end in 000 written in one stroke: a run of digits overlapping their
    # neighbours by a few pixels, one blob that needs a cut at every join.
    for digits in ("172000", "2000000"):
        inks = [pen_digit(d, HEIGHT) for d in first_of(mnist, digits)]
        canvas = [(inks[0], 20)]
        for ink in inks[1:]:
            previous, x = canvas[-1]
            canvas.append((ink, x + touching_offset(previous, ink) - 3))
        mask = np.zeros((HEIGHT + 40, 600), bool)
        for ink, x in canvas:
            mask[20 + HEIGHT - ink.shape[0] : 20 + HEIGHT, x : x + ink.shape[1]] |= ink
        pieces, _ = find_pieces(mask)
        assert len({piece.source for piece in pieces}) == 1  # one blob
        assert read_mask(mask, recognizer) == digits


def test_digits_touching_at_a_column_or_two_bridge_a_gap():
    # Neighbouring digits written close share a column or two; that is no broken digit.
    def piece(x: int, width: int, source: int) -> Blob:
        return Blob(x, 0, width, 30, np.ones((30, width), bool), source)

    candidates = decode.line_candidates([piece(0, 20, 1), piece(19, 20, 2)], 30.0)
    assert {(a, b): bridged for a, b, bridged, _ in candidates}[(0, 2)] == 1


def test_zeros_written_small_are_read_and_dots_are_not(mnist, recognizer):
    # Many people write 0 at the height of a lower-case o, well under the line's digits.
    five, one, zero, six = first_of(mnist, "5106")
    five, one, six = (pen_digit(d, HEIGHT) for d in (five, one, six))
    small = pen_digit(zero, round(0.36 * HEIGHT))
    x = 40 + five.shape[1] + 12
    inks = [(five, 40), (one, x)]
    x += one.shape[1] + 12
    for _ in range(3):
        inks.append((small, x))
        x += small.shape[1] + 12
    inks.append((six, x))
    assert read_mask(canvas_with(*inks), recognizer) == "510006"
    dot = np.ones((7, 7), bool)
    assert read_mask(canvas_with((five, 40), (dot, x - 20), (six, x)), recognizer) == "56"
    assert decode.SMALL_ZERO * HEIGHT < 0.36 * HEIGHT < decode.MIN_HEIGHT * HEIGHT


def test_a_dot_beside_digits_is_left_out(mnist, recognizer):
    inks = [pen_digit(d, HEIGHT) for d in first_of(mnist, "72")]
    dot = np.ones((7, 7), bool)
    mask = canvas_with((inks[0], 40), (dot, 40 + inks[0].shape[1] + 10), (inks[1], 140))
    assert read_mask(mask, recognizer) == "72"


def proposal_of(sources: list[int], short: list[bool], runs: list[tuple[int, int]]) -> Proposal:
    """A one-line proposal over pieces with these sources, candidates the given runs."""
    start, stop = np.array(runs).T
    joins = [sum(sources[i] != sources[i - 1] for i in range(a + 1, b)) for a, b in runs]
    return Proposal(
        line_starts=np.array([0, len(sources)]),
        skippable=np.array(short),
        source=np.array(sources),
        start=start,
        stop=stop,
        joins=np.array(joins),
        can_be_digit=np.array([not all(short[a:b]) for a, b in runs]),
        small=np.zeros(len(runs), bool),
        lean=np.zeros(len(runs)),
        stroke_width=np.ones(len(runs)),
        boxes=np.zeros((len(runs), 4), int),
        images=np.zeros((len(runs), 28, 28), np.uint8),
        separator_start=np.zeros(0, int),
        separator_stop=np.zeros(0, int),
        separator_char=np.zeros(0, "<U1"),
        separator_confidence=np.zeros(0),
        separator_boxes=np.zeros((0, 4), int),
        separator_dated=np.zeros(0, bool),
    )


def test_the_reading_with_the_best_total_wins():
    runs = [(0, 1), (1, 2), (0, 2)]
    labels = np.array([3, 5, 8])
    # Two pieces of one blob, each read far better than the whole: two digits.
    cut_blob = proposal_of([0, 0], [False, False], runs)
    assert choose(cut_blob, labels, np.array([0.95, 0.95, 0.2])).digits.tolist() == [0, 1]
    # Read about as well either way: splitting must earn its place, the whole wins.
    assert choose(cut_blob, labels, np.array([0.9, 0.9, 0.85])).digits.tolist() == [2]
    # Two separate pieces, neither a digit alone: one broken digit.
    apart = proposal_of([0, 1], [False, False], runs)
    assert choose(apart, labels, np.array([0.1, 0.2, 0.9])).digits.tolist() == [2]


def test_a_short_piece_may_be_left_out_but_a_tall_one_may_not():
    runs = [(0, 1), (1, 2), (0, 2)]
    labels = np.array([4, 1, 4])
    speck = proposal_of([0, 1], [False, True], runs)
    # The speck cannot be a digit alone; joining it spoils the 4: it is left out.
    assert choose(speck, labels, np.array([0.99, 0.9, 0.3])).digits.tolist() == [0]
    tall = proposal_of([0, 1], [False, False], runs)
    assert choose(tall, labels, np.array([0.99, 0.05, 0.01])).digits.tolist() == [0, 1]


def test_a_slanted_stroke_cut_from_a_blob_is_not_a_one():
    runs = [(0, 1), (1, 2), (0, 2)]
    proposal = proposal_of([0, 0], [False, False], runs)
    leaning = Proposal(**{**proposal.__dict__, "lean": np.array([45.0, 45.0, 10.0])})
    labels = np.array([1, 1, 4])
    confidences = np.array([0.99, 0.99, 0.3])
    assert choose(proposal, labels, confidences).digits.tolist() == [0, 1]
    assert choose(leaning, labels, confidences).digits.tolist() == [2]
    assert decode.MAX_CUT_ONE_LEAN < 45.0


def leaning_bar(x: int, width: int, degrees: float, shape: tuple[int, int]) -> np.ndarray:
    """A stroke ``width`` px wide from the foot of column ``x``, leaning right, full height."""
    rows, cols = np.indices(shape)
    left = x + (shape[0] - 1 - rows) * np.tan(np.radians(degrees))
    return (cols >= left) & (cols < left + width)


def test_a_slanted_cut_parts_leaning_strokes_that_share_columns():
    shape = (60, 60)
    first, second = leaning_bar(0, 6, 25.0, shape), leaning_bar(14, 6, 25.0, shape)
    # The strokes overlap in their columns, so no upright cut parts them; a thin bridge
    # joins them into one blob.
    assert np.flatnonzero(second.any(axis=0))[0] < np.flatnonzero(first.any(axis=0))[-1]
    bridge = np.zeros(shape, bool)
    bridge[30:32, 10:40] = True
    blob = Blob(100, 200, shape[1], shape[0], first | second | bridge)
    (left, right), *_ = slanted_cuts(blob, 1)
    on_page = [np.zeros((300, 200), bool) for _ in range(2)]
    for canvas, half in zip(on_page, (left, right), strict=True):
        canvas[half.y : half.y + half.h, half.x : half.x + half.w] = half.mask
    first_on_page, second_on_page = (np.pad(m, ((200, 40), (100, 40))) for m in (first, second))
    assert (on_page[0] >= first_on_page).all() and not (on_page[0] & second_on_page).any()
    assert (on_page[1] >= second_on_page).all() and not (on_page[1] & first_on_page).any()


def recut_of(which: list[int], lean: list[list[float]]) -> decode.Recut:
    """Cuts of the chosen digits at positions ``which``, their halves leaning by ``lean``."""
    count = len(which)
    return decode.Recut(
        which=np.array(which),
        boxes=np.arange(count * 8).reshape(count, 2, 4),
        lean=np.array(lean, float),
        images=np.zeros((2 * count, 28, 28), np.uint8),
    )


def test_a_rejected_digit_is_replaced_by_its_best_cut_only_where_that_reads_better():
    chosen = (np.array([7, 0, 2]), np.array([0.99, 0.05, 0.98]), np.arange(12).reshape(3, 4))
    # Two cuts of the doubtful middle digit: the second reads as a confident 1 and 4.
    recut = recut_of([1, 1], [[5.0, 5.0], [5.0, 5.0]])
    labels = np.array([6, 8, 1, 4])
    labels_out, confidences_out, boxes_out, origin = decode.apply_recuts(
        chosen, recut, labels, np.array([0.3, 0.2, 0.97, 0.95]))
    assert labels_out.tolist() == [7, 1, 4, 2] and origin.tolist() == [0, 1, 1, 2]
    assert confidences_out.tolist() == pytest.approx([0.99, 0.97, 0.95, 0.98])
    assert boxes_out.tolist() == [[0, 1, 2, 3], [8, 9, 10, 11], [12, 13, 14, 15], [8, 9, 10, 11]]
    # Halves read no better than the whole, once a cut has paid its way: the whole stays.
    kept = decode.apply_recuts(chosen, recut, labels, np.array([0.3, 0.2, 0.3, 0.2]))
    assert kept[0].tolist() == [7, 0, 2]
    # A half read as a 1 that leans like a slash is no 1.
    slash = recut_of([1, 1], [[5.0, 5.0], [45.0, 5.0]])
    read = decode.apply_recuts(chosen, slash, labels, np.array([0.3, 0.2, 0.97, 0.95]))
    assert read[0].tolist() == [7, 0, 2]


def test_slashes_stand_in_dates():
    # 18/03/20178: a date whose year is misread. Its two slashes, sure by their own lean,
    # stay; slashes that are a date's only as a pair (dated) need a real date around them.
    text = "18X03X20178"
    runs = [(i, i + 1) for i in range(len(text))]
    proposal = proposal_of(list(range(len(text))), [False] * len(text), runs)
    boxes = np.array([(20 * i, 0, 15, 40) for i in range(len(text))])
    slashes = [i for i, char in enumerate(text) if char == "X"]
    labels = np.array([1 if char == "X" else int(char) for char in text])
    confidences = np.full(len(text), 0.99)

    def read(dated: bool) -> str:
        with_slashes = Proposal(**{
            **proposal.__dict__, "boxes": boxes,
            "separator_start": np.array(slashes), "separator_stop": np.array(slashes) + 1,
            "separator_char": np.array(["/", "/"]),
            "separator_confidence": np.array([0.9, 0.9]),
            "separator_boxes": boxes[slashes], "separator_dated": np.array([dated, dated]),
            "pieces": tuple(Blob(*box, np.ones((40, 15), bool), source=i)
                            for i, box in enumerate(boxes.tolist())),
        })
        reading = choose(with_slashes, labels, confidences)
        chars = [str(labels[c]) for c in reading.digits]
        for s, after in reversed(list(zip(reading.separators, reading.after, strict=True))):
            chars.insert(after, str(with_slashes.separator_char[s]))
        return "".join(chars)

    assert read(dated=False) == "18/03/20178"
    assert read(dated=True) == "18103120178"

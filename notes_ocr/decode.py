"""Digit pieces of a page -> the digits they most likely make up.

Segmentation over-segments: it cuts a wide blob at every column where two touching digits
could meet, and leaves the pieces of a broken digit apart when they sit side by side. This
stage puts pieces back together, line by line, in three steps:

1. ``propose``: every run of up to MAX_PIECES neighbouring pieces of a line is a candidate
   digit, normalised to an MNIST image for the classifier.
2. ``choose``: given the classifier's confidence in each candidate as one whole digit,
   dynamic programming picks for each line the division into digits that the classifier
   believes most: the largest sum of log confidences, less a cost per digit, per cut
   through ink and per bridged gap, so that a reading with more events must read clearly
   better. Touching digits are split and broken ones mended by the same test.
3. ``recut_rejected`` / ``apply_recuts``: a chosen digit the classifier takes for no digit
   at all is cut in two along slanted lines (digits written slanted and close share
   columns, so no column cut parts them), and read as two where that reads better.

The classifier runs in between, on as many pages' candidates at once as the caller likes:
``Proposal`` holds plain arrays and its pieces, so it travels between processes cheaply
(the second classification, of the halves of step 3, is per page).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from notes_ocr.layout import rows_of
from notes_ocr.normalize import MNIST_SIZE, normalize_blob, skeleton_length
from notes_ocr.segment import Blob, join, slanted_cuts
from notes_ocr.separators import SEPARATORS, TRAILING, line_separators, signed_lean

MAX_PIECES = 8  # the most pieces one digit is made of
MAX_WIDTH = 2.0  # a digit of several pieces is at most this many line heights wide
MAX_GAP = 0.3  # pieces of one digit are at most this many line heights apart
# Pieces overlapping in at least this share of the narrower one's columns stand one above
# the other, as the parts of a broken digit do; neighbouring digits touch at a column or two.
MIN_OVERLAP = 0.25
MIN_HEIGHT = 0.4  # a digit is at least this many line heights tall
# ... except a 0, which many people write small, at the height of a lower-case o: a
# shorter candidate at least this tall may be read, as a 0 alone (a sure 0 is a ring,
# where a dot, a dash or a tick reads as something else or nothing).
SMALL_ZERO = 0.3
DIGIT_COST = 0.05  # log-confidence a reading pays per digit: the fewer digits win ties
# Reading two digits where segmentation cut through ink costs this much log-confidence:
# digits touch less often than not, and the narrow edge of many digits reads as a
# confident 1 once cut off.
CUT_COST = 0.35
# Reading separate pieces as one broken digit costs this much per gap: digits break less
# often than they stand apart.
JOIN_COST = 0.35
# A piece shorter than MIN_HEIGHT may be a stray mark (a dot, a tick) rather than part of a
# digit: the reading may leave it out for this much log-confidence (half as likely).
SKIP_COST = float(np.log(2.0))
# A piece cut out of a blob is read as a 1 only if it leans less than this from upright
# (degrees): the classifier takes any straight stroke for a 1, and a tick or a cross cut
# apart is two slanted straight strokes. Written 1s lean less.
MAX_CUT_ONE_LEAN = 30.0
# A date is one number: written without a gap wider than this many digit heights.
DATE_GAP = 0.6
FLOOR = 1e-4  # confidences are clipped here before the log: one bad guess is not -inf
# A chosen digit the classifier gives at least this probability of being no digit at all is
# tried as two digits (`segment.slanted_cuts`, the RECUTS cuts through the least ink): two
# digits written close and slanted overlap in their columns, so no column cut parts them.
REJECTED = 0.5
RECUTS = 3


@dataclass(frozen=True)
class Proposal:
    """A page's pieces in reading order and every candidate digit made of them.

    Pieces are numbered line by line, left to right; line ``l`` holds pieces
    ``line_starts[l]`` to ``line_starts[l + 1] - 1``. Candidate ``c`` is pieces
    ``start[c]`` to ``stop[c] - 1`` of one line.
    """

    line_starts: np.ndarray  # (L + 1,) int
    skippable: np.ndarray  # (P,) bool: short enough to be a stray mark
    source: np.ndarray  # (P,) int: pieces cut from one blob share it (their ink touches)
    start: np.ndarray  # (C,) int
    stop: np.ndarray  # (C,) int
    joins: np.ndarray  # (C,) int: gaps the candidate bridges between pieces that stand apart
    can_be_digit: np.ndarray  # (C,) bool: tall enough to be a digit
    small: np.ndarray  # (C,) bool: too short for a digit but a 0 (SMALL_ZERO)
    lean: np.ndarray  # (C,) float: degrees the ink's main axis leans from upright
    # (C,) float: the width of the candidate's strokes, px: its ink over its skeleton's length
    stroke_width: np.ndarray
    boxes: np.ndarray  # (C, 4) int: x, y, w, h on the working page
    # (C, 28, 28) uint8: each candidate as an MNIST-style digit; blank where it is too
    # short to be one (neither ``can_be_digit`` nor ``small``), as such a candidate is
    # never chosen.
    images: np.ndarray
    # Separator candidates (``separators.line_separators``): pieces ``separator_start[s]``
    # to ``separator_stop[s] - 1`` of one line read as ``separator_char[s]``.
    separator_start: np.ndarray  # (S,) int
    separator_stop: np.ndarray  # (S,) int
    separator_char: np.ndarray  # (S,) str
    separator_confidence: np.ndarray  # (S,) float: how sure their size and place make it
    separator_boxes: np.ndarray  # (S, 4) int: x, y, w, h on the working page
    separator_dated: np.ndarray  # (S,) bool: a slash only as one of a date's pair
    pieces: tuple[Blob, ...] = ()  # (P,) in the order above: what a chosen digit is made of


@dataclass(frozen=True)
class Reading:
    """What ``choose`` reads on a page: digit candidates and separators, in reading order."""

    digits: np.ndarray  # (D,) int: candidate indices
    separators: np.ndarray  # (S,) int: separator-candidate indices
    after: np.ndarray  # (S,) int: how many of ``digits`` come before each separator


def propose(pieces: list[Blob], digit_height: float) -> Proposal:
    """Group ``pieces`` (``segment.find_pieces``) into lines and list candidate digits."""
    # Candidates are made along whole rows of writing: a row cut into columns at its wide
    # gaps is still one row's height and one writer's hand.
    lines = []
    if pieces:
        boxes = np.array([piece.box for piece in pieces], float)
        for row in rows_of(boxes, digit_height):
            lines.append([pieces[i] for i in row])
    line_starts = np.cumsum([0, *(len(line) for line in lines)])
    # A candidate's stroke width is its ink over its skeleton's length, both summed over its
    # pieces: each piece is skeletonized once rather than once for every candidate.
    in_order = [piece for line in lines for piece in line]  # as ``start`` and ``stop`` count
    piece_ink = np.array([np.count_nonzero(piece.mask) for piece in in_order], float)
    piece_skeleton = np.array([skeleton_length(piece.mask) for piece in in_order], float)
    skippable, source = [], []
    start, stop, joins, can_be_digit, small, blobs, lean = [], [], [], [], [], [], []
    separators = []
    for offset, line in zip(line_starts, lines, strict=False):
        height = line_height(line, digit_height)
        tall = [offset + i for i, piece in enumerate(line) if piece.h >= MIN_HEIGHT * height]
        pen = float(np.median(piece_ink[tall] / np.maximum(piece_skeleton[tall], 1))
                    ) if tall else 0.0
        axes = [signed_lean(piece.mask) for piece in line]  # each piece's, once
        separators.extend((offset, found) for found in line_separators(line, height, pen, axes))
        skippable.extend(piece.h < MIN_HEIGHT * height for piece in line)
        source.extend(piece.source for piece in line)
        for first, last, bridged, union in line_candidates(line, height):
            start.append(offset + first)
            stop.append(offset + last)
            joins.append(bridged)
            can_be_digit.append(union.h >= MIN_HEIGHT * height)
            small.append(SMALL_ZERO * height <= union.h < MIN_HEIGHT * height)
            blobs.append(union)
            lean.append(abs(axes[first][0]) if last == first + 1 else lean_degrees(union.mask))

    ink = np.cumsum([0, *piece_ink])
    skeleton = np.cumsum([0, *piece_skeleton])
    starts, stops = np.array(start, int), np.array(stop, int)
    stroke_width = (ink[stops] - ink[starts]) / np.maximum(skeleton[stops] - skeleton[starts], 1)
    images = np.zeros((len(blobs), MNIST_SIZE, MNIST_SIZE), np.uint8)
    for i in np.flatnonzero(np.array(can_be_digit, bool) | np.array(small, bool)):
        images[i] = normalize_blob(blobs[i].mask, width=stroke_width[i])
    return Proposal(
        line_starts=np.asarray(line_starts, int),
        skippable=np.array(skippable, bool),
        source=np.array(source, int),
        start=starts,
        stop=stops,
        joins=np.array(joins, int),
        can_be_digit=np.array(can_be_digit, bool),
        small=np.array(small, bool),
        lean=np.array(lean, float),
        stroke_width=stroke_width,
        boxes=np.array([blob.box for blob in blobs], int).reshape(-1, 4),
        images=images,
        separator_start=np.array([offset + found.first for offset, found in separators], int),
        separator_stop=np.array([offset + found.last for offset, found in separators], int),
        separator_char=np.array([found.char for _, found in separators], "<U1"),
        separator_confidence=np.array([found.confidence for _, found in separators], float),
        separator_boxes=np.array([found.blob.box for _, found in separators],
                                 int).reshape(-1, 4),
        separator_dated=np.array([found.dated for _, found in separators], bool),
        pieces=tuple(in_order),
    )


def line_height(line: list[Blob], digit_height: float) -> float:
    """The height of a line's digits: the median of its pieces that could be digits.

    A line of nothing but short marks gets the page's digit height, so that they stay marks.
    """
    heights = np.array([piece.h for piece in line], float)
    tall = heights[heights >= 0.5 * digit_height]
    return float(np.median(tall)) if tall.size else digit_height


def line_candidates(line: list[Blob], height: float) -> list[tuple[int, int, int, Blob]]:
    """Every run of neighbouring pieces of a line that could be one digit.

    Returns (first piece, last piece + 1, gaps bridged, the joined blob) tuples; a piece
    that overlaps the candidate's columns (by MIN_OVERLAP) bridges no gap.
    """
    out = []
    for first in range(len(line)):
        union = line[first]
        bridged = 0
        out.append((first, first + 1, 0, union))
        for last in range(first + 1, min(first + MAX_PIECES, len(line))):
            piece = line[last]
            if piece.x > union.x + union.w + MAX_GAP * height:
                break
            # A separate piece whose columns overlap the candidate's bridges no gap: the
            # pieces of a broken digit overlap like that more often than not, neighbouring
            # digits hardly ever (22 of 34 and 30 of 6,706 pairs of tall pieces on the
            # held-out benchmark pages).
            overlap = union.x + union.w - piece.x
            narrower = min(piece.w, line[last - 1].w)
            stands_apart = (piece.source != line[last - 1].source
                            and overlap < MIN_OVERLAP * narrower)
            union = join(union, piece)
            if union.w > MAX_WIDTH * height:
                break
            bridged += stands_apart
            out.append((first, last + 1, bridged, union))
    return out


def choose(proposal: Proposal, labels: np.ndarray, confidences: np.ndarray) -> Reading:
    """The candidates that make up the page's digits and separators, in reading order.

    ``labels`` and ``confidences`` (C,) are the classifier's reading of each candidate and
    its confidence in it as one whole digit. For each line, every piece belongs to exactly
    one chosen candidate, digit or separator, except short pieces, which may be left out
    as stray marks for SKIP_COST each; a candidate too short to be a digit is never
    chosen as one, and a small one only as a 0. A separator stands after a digit (and
    ``/`` and ``:`` before one too), or it is left out.
    """
    # Where segmentation cut through ink: the piece before a candidate's first one, or the
    # one after its last, came from the same blob.
    source = proposal.source
    line_first = np.repeat(proposal.line_starts[:-1], np.diff(proposal.line_starts))
    line_end = np.repeat(proposal.line_starts[1:], np.diff(proposal.line_starts))
    first, last = proposal.start, proposal.stop - 1
    cut_before = first > line_first[first]
    cut_before[cut_before] = source[first[cut_before] - 1] == source[first[cut_before]]
    cut_after = last + 1 < line_end[last]
    cut_after[cut_after] = source[last[cut_after] + 1] == source[last[cut_after]]

    labels = np.asarray(labels)
    confidences = np.asarray(confidences, np.float64).copy()
    slanted_one = (labels == 1) & (proposal.lean > MAX_CUT_ONE_LEAN)
    confidences[slanted_one & (cut_before | cut_after)] = FLOOR
    costs = DIGIT_COST + JOIN_COST * proposal.joins + CUT_COST * cut_before
    # A piece that may be a separator is read as part of a digit only as far as it is no
    # separator: each candidate containing a separator candidate's pieces shares its
    # confidence out with it. The classifier takes a slash for a 1, as it is one straight
    # stroke, and a dot or a colon beside a digit for part of it. Not so where the
    # separator's pieces are cut out of the digit's ink (a 7's or a 4's bar is a fine
    # dash) or stand in its columns (a broken digit's piece): the classifier sees those whole.
    slashes = proposal.separator_char == "/"
    containing = [separator_containers(proposal, labels, s, line_first[first], line_end[first])
                  for s, first in enumerate(proposal.separator_start.tolist())]

    def digit_scores(left_out: set[int]) -> np.ndarray:
        """Candidates' scores, sharing with every separator candidate but ``left_out``."""
        shared = confidences.copy()
        for s, candidates in enumerate(containing):
            if s not in left_out:
                shared[candidates] *= 1.0 - proposal.separator_confidence[s]
        return np.log(np.clip(shared, FLOOR, 1.0)) - costs

    scores = digit_scores(set())
    separator_scores = np.log(np.clip(proposal.separator_confidence, FLOOR, 1.0)) - DIGIT_COST
    ending: dict[int, list[int]] = {}
    small_zero = proposal.small & (labels == 0)
    for c in np.flatnonzero(proposal.can_be_digit | small_zero):
        ending.setdefault(int(proposal.stop[c]), []).append(int(c))
    separators_ending: dict[int, list[int]] = {}
    for s, stop in enumerate(proposal.separator_stop.tolist()):
        separators_ending.setdefault(stop, []).append(s)

    # A line is read as a walk through three states: nothing read yet (or a separator
    # that may end a number), a digit read last, or a separator that must be followed by
    # a digit (``/`` and ``:``). A separator is read only right after a digit.
    open_, digit, inside = 0, 1, 2
    needs_digit = np.isin(proposal.separator_char, [c for c in SEPARATORS if c not in TRAILING])

    def read_line(line_start: int, line_stop: int, scores: np.ndarray,
                  separator_scores: np.ndarray) -> tuple[list[tuple[str, int]], float]:
        """The best reading of a line, ("digit", candidate) and ("separator", s) pairs, and
        its score."""
        best = np.full((line_stop - line_start + 1, 3), -np.inf)
        best[0, open_] = 0.0
        # (piece index, state) -> how the best reading up to it ends: (kind, index, state before)
        came_from: dict[tuple[int, int], tuple[str, int, int]] = {}
        for stop in range(line_start + 1, line_stop + 1):
            here = best[stop - line_start]
            if proposal.skippable[stop - 1]:
                here[:] = best[stop - 1 - line_start] - SKIP_COST
                for state in (open_, digit, inside):
                    came_from[stop, state] = ("skip", -1, state)
            for c in ending.get(stop, ()):
                before = best[int(proposal.start[c]) - line_start]
                state = int(np.argmax(before))
                if before[state] + scores[c] > here[digit]:
                    here[digit] = before[state] + scores[c]
                    came_from[stop, digit] = ("digit", c, state)
            for s in separators_ending.get(stop, ()):
                start = int(proposal.separator_start[s]) - line_start
                value = best[start, digit] + separator_scores[s]
                state = inside if needs_digit[s] else open_
                if value > here[state]:
                    here[state] = value
                    came_from[stop, state] = ("separator", s, digit)
        read: list[tuple[str, int]] = []
        stop, state = line_stop, (open_ if best[-1, open_] >= best[-1, digit] else digit)
        total = float(best[-1, state])
        while stop > line_start:
            kind, index, state = came_from[stop, state]
            if kind == "skip":
                stop -= 1
                continue
            read.append((kind, index))
            starts = proposal.start if kind == "digit" else proposal.separator_start
            stop = int(starts[index])
        return read[::-1], total

    def slash_doubts(read: list[tuple[str, int]]) -> set[int]:
        """The slashes of a reading in doubt: all of an odd number, or those in no date."""
        read_slashes = {index for kind, index in read if kind == "separator" and slashes[index]}
        return read_slashes if len(read_slashes) % 2 else not_in_dates(proposal, labels, read)

    digits: list[int] = []
    separators: list[int] = []
    after: list[int] = []
    for line_start, line_stop in zip(proposal.line_starts[:-1].tolist(),
                                     proposal.line_starts[1:].tolist(), strict=True):
        # Slashes come in pairs, in dates (12/05/2019): of an odd number, one is more
        # likely a 1 that leans (an amount or a number on its own has no slash), and so is
        # a slash in a number that is no date. Each doubtful slash is tried as no slash, and
        # the best reading that settles the doubt is kept (or the best, to try again).
        read, _ = read_line(line_start, line_stop, scores, separator_scores)
        dropped: set[int] = set()
        while doubtful := slash_doubts(read) - dropped:
            tries = []
            for slash in doubtful:
                left_out = dropped | {slash}
                line_separator_scores = separator_scores.copy()
                line_separator_scores[list(left_out)] = np.log(FLOOR)
                tried, total = read_line(line_start, line_stop, digit_scores(left_out),
                                         line_separator_scores)
                tries.append((not (slash_doubts(tried) - left_out), total, left_out, tried))
            if (not any(settled for settled, *_ in tries)
                    and not proposal.separator_dated[list(doubtful)].any()
                    and in_a_misread_date(proposal, labels, read, doubtful)):
                break  # a pair sure by its own lean stays, in a date whose digits are misread
            _, _, dropped, read = max(tries, key=lambda attempt: attempt[:2])
        for kind, index in read:
            if kind == "digit":
                digits.append(index)
            else:
                separators.append(index)
                after.append(len(digits))
    return Reading(np.array(digits, int), np.array(separators, int), np.array(after, int))


def slashed_numbers(proposal: Proposal, labels: np.ndarray,
                    read: list[tuple[str, int]]) -> list[tuple[str, set[int]]]:
    """The numbers of a line's reading that hold slashes: each one's text and its slashes.
    A number ends at a gap wider than DATE_GAP digit heights."""
    if not any(kind == "separator" and proposal.separator_char[index] == "/"
               for kind, index in read):
        return []
    boxes = np.array([(proposal.boxes if kind == "digit" else proposal.separator_boxes)[index]
                      for kind, index in read])
    height = float(np.median(boxes[:, 3]))
    gaps = boxes[1:, 0] - (boxes[:-1, 0] + boxes[:-1, 2])
    ends = [0, *(np.flatnonzero(gaps > DATE_GAP * height) + 1).tolist(), len(read)]
    numbers = []
    for first, stop in itertools.pairwise(ends):
        number = read[first:stop]
        slashes = {index for kind, index in number
                   if kind == "separator" and proposal.separator_char[index] == "/"}
        if slashes:
            numbers.append(("".join(str(labels[index]) if kind == "digit"
                                    else proposal.separator_char[index]
                                    for kind, index in number), slashes))
    return numbers


def not_in_dates(proposal: Proposal, labels: np.ndarray,
                 read: list[tuple[str, int]]) -> set[int]:
    """The slashes of a line's reading that stand in no date (``is_date``).

    A slash read as one of a date's pair stands only where the day and month are ones
    (either order): the others may stand in a date misread.
    """
    out = set()
    for text, slashes in slashed_numbers(proposal, labels, read):
        if not is_date(text, check_values=proposal.separator_dated[list(slashes)].any()):
            out |= slashes
    return out


def in_a_misread_date(proposal: Proposal, labels: np.ndarray, read: list[tuple[str, int]],
                      slashes: set[int]) -> bool:
    """Whether ``slashes`` are the two of one number of three parts of digits: a date,
    whatever its digits were read as."""
    return any(here == slashes and len(parts := text.split("/")) == 3
               and all(part.isdigit() for part in parts)
               for text, here in slashed_numbers(proposal, labels, read))


def is_date(text: str, check_values: bool = True) -> bool:
    """Whether ``text`` reads as a date: d/m/y or m/d/y (y of 2 or 4 digits), or y/m/d.
    ``check_values``: the day and month must be ones, not only the parts' lengths right."""
    parts = text.split("/")
    if len(parts) != 3 or not all(part.isdigit() for part in parts):
        return False
    a, b, c = parts
    if len(a) == 4:
        a, b, c = c, b, a  # y/m/d
    if len(a) > 2 or len(b) > 2 or len(c) not in (2, 4):
        return False
    day_month = int(a), int(b)
    return not check_values or any(1 <= day <= 31 and 1 <= month <= 12
                                   for day, month in (day_month, day_month[::-1]))


def separator_containers(proposal: Proposal, labels: np.ndarray, s: int, line_first: int,
                         line_end: int) -> np.ndarray:
    """The candidates that hold separator candidate ``s``'s pieces and share their
    confidence out with it.

    None where its pieces were cut from a neighbour's ink. A candidate of those pieces
    alone, when read as a 1, the one digit a separator's single stroke looks like (a
    leaning 8 read surely is an 8). A candidate of more pieces, when it is a short
    separator (no slash, which may well be a broken digit's stroke as tall as the digit)
    whose columns the other pieces overlap by less than MIN_OVERLAP of the narrower one's.
    """
    pieces, source = proposal.pieces, proposal.source
    first, stop = int(proposal.separator_start[s]), int(proposal.separator_stop[s])
    if (first > line_first and source[first - 1] == source[first]) or (
            stop < line_end and source[stop] == source[stop - 1]):
        return np.zeros(0, int)
    x0 = min(piece.x for piece in pieces[first:stop])
    x1 = max(piece.x + piece.w for piece in pieces[first:stop])
    out = []
    for c in np.flatnonzero((proposal.start <= first) & (proposal.stop >= stop)).tolist():
        rest = [*pieces[proposal.start[c]:first], *pieces[stop:proposal.stop[c]]]
        if not rest:
            if labels[c] == 1:
                out.append(c)
            continue
        if proposal.separator_char[s] == "/":
            continue
        r0 = min(piece.x for piece in rest)
        r1 = max(piece.x + piece.w for piece in rest)
        if min(x1, r1) - max(x0, r0) < MIN_OVERLAP * min(x1 - x0, r1 - r0):
            out.append(c)
    return np.array(out, int)


def lean_degrees(mask: np.ndarray) -> float:
    """How far the main axis of a shape's ink leans from upright, 0-90 degrees."""
    return abs(signed_lean(mask)[0])


@dataclass(frozen=True)
class Recut:
    """Chosen digits the classifier rejects, each cut in two along a few slanted lines."""

    which: np.ndarray  # (K,) int: the position in ``chosen`` of the digit cut K
    boxes: np.ndarray  # (K, 2, 4) int: x, y, w, h of its left and right halves
    lean: np.ndarray  # (K, 2) float: degrees the halves' ink leans from upright
    images: np.ndarray  # (2K, 28, 28) uint8: the halves as MNIST-style digits, in pairs


def recut_rejected(proposal: Proposal, chosen: np.ndarray, digit_probability: np.ndarray) -> Recut:
    """Cut each chosen digit the classifier gives at least REJECTED probability of being no
    digit (1 - ``digit_probability``, per candidate) in two, along the RECUTS slanted lines
    through the least ink that leave halves at least MIN_HEIGHT of it tall."""
    which, boxes, lean, images = [], [], [], []
    for position, c in enumerate(chosen):
        if 1.0 - digit_probability[c] < REJECTED:
            continue
        blob = proposal.pieces[proposal.start[c]]
        for piece in proposal.pieces[proposal.start[c] + 1 : proposal.stop[c]]:
            blob = join(blob, piece)
        for halves in slanted_cuts(blob, RECUTS, MIN_HEIGHT * blob.h):
            which.append(position)
            boxes.append([half.box for half in halves])
            lean.append([lean_degrees(half.mask) for half in halves])
            # Cutting a digit in two leaves its strokes as wide as they were: the halves are
            # drawn at the whole's stroke width, measured on more ink than either half has
            # (and with no skeleton to find here, in the process that classifies).
            images.extend(normalize_blob(half.mask, width=proposal.stroke_width[c])
                          for half in halves)
    return Recut(
        which=np.array(which, int),
        boxes=np.array(boxes, int).reshape(-1, 2, 4),
        lean=np.array(lean, float).reshape(-1, 2),
        images=np.array(images, np.uint8).reshape(-1, MNIST_SIZE, MNIST_SIZE),
    )


def apply_recuts(
    digits: tuple[np.ndarray, np.ndarray, np.ndarray],
    recut: Recut,
    labels: np.ndarray,
    confidences: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The chosen digits with each rejected one replaced by its best cut, where that reads
    better.

    ``digits`` are the chosen digits' labels (D,), confidences (D,) and boxes (D, 4);
    ``labels`` and ``confidences`` (2K,) the classifier's reading of ``recut.images``. A
    cut pays what the decoder charges for a cut through ink and one digit more; a half read
    as a 1 that leans more than MAX_CUT_ONE_LEAN is no 1. Returns the new (labels,
    confidences, boxes), in reading order, and for each the position of the chosen digit
    it comes from (int (D',)).
    """
    chosen_labels, chosen_confidences, chosen_boxes = digits
    pair_labels = np.asarray(labels).reshape(-1, 2)
    pair_confidences = np.asarray(confidences, np.float32).reshape(-1, 2)
    believed = pair_confidences.astype(np.float64)
    believed[(pair_labels == 1) & (recut.lean > MAX_CUT_ONE_LEAN)] = FLOOR
    scores = np.log(np.clip(believed, FLOOR, 1.0)).sum(axis=1) - DIGIT_COST - CUT_COST
    best: dict[int, int] = {}  # position in the chosen digits -> its best cut
    for k, position in enumerate(recut.which.tolist()):
        if position not in best or scores[k] > scores[best[position]]:
            best[position] = k
    best = {
        position: k for position, k in best.items()
        if scores[k] > np.log(max(float(chosen_confidences[position]), FLOOR))
    }
    out_labels, out_confidences, out_boxes, origin = [], [], [], []
    for position in range(len(chosen_labels)):
        if position in best:
            k = best[position]
            out_labels.extend(pair_labels[k])
            out_confidences.extend(pair_confidences[k])
            out_boxes.extend(recut.boxes[k])
            origin.extend([position, position])
        else:
            out_labels.append(chosen_labels[position])
            out_confidences.append(chosen_confidences[position])
            out_boxes.append(chosen_boxes[position])
            origin.append(position)
    return (
        np.array(out_labels, int),
        np.array(out_confidences, np.float32),
        np.array(out_boxes, int).reshape(-1, 4),
        np.array(origin, int),
    )

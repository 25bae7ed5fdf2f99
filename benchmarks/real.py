"""Real handwriting: notes-ocr, Tesseract and RapidOCR on real images nobody here made.

    python -m benchmarks.real [--data ../shared/realdata] [--no-peers] [--json PATH]
                              [--out benchmarks/.cache/real]

The images and their truth live outside the repository (``../shared/realdata/pages``, see
its README: phone photos and flat crops of notes, amount fields of bank cheques, row
numbers of parish registers); they are read where they are and never copied. Each source
is a folder, scanned the way a user scans one: ``notes-ocr scan --format jsonl FOLDER`` in
a fresh process, start-up included. The peers read the same images in the same run:
Tesseract (Debian's ``tesseract-ocr``, digits only, its best page segmentation mode chosen
once per source) and RapidOCR (``pip install 'notes-ocr[bench]'``: PP-OCR models run by
ONNX Runtime, shipped in the wheel; of what it reads, digits and spaces are kept).

Scores per source, over the digits alone (the truths hold digits and group spaces only):
digit error (Levenshtein distance over the truth's digits), exact lines, and exact digit
strings (a page whose digits are all right, spaces aside: the measure for truths without
groups). For pages whose truth is one line (cheque fields, register cells) the digit
error of the read line nearest the truth is given too, since such cells may hold other
ink that the label leaves out (margin notes, printed words).

notes-ocr's digit confidences are checked against the truth: read digits are aligned to
the true ones (Levenshtein), a digit is right if aligned to the same digit, and the
expected calibration error and a reliability plot say how well confidence predicts that.
A gallery of the pages read wrong, with truth and reading, is written for a person to
look at; it stays in the cache folder, outside the repository, with the data's licences.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

import benchmarks.pages as page_benchmark
from benchmarks.pages import scan_folder, tesseract_version
from notes_ocr.normalize import normalize_blob
from notes_ocr.recognizer import Recognizer
from notes_ocr.testing.metrics import Score, align, levenshtein, total

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "realdata"
OUT = HERE / ".cache" / "real"
TESSERACT_PSMS = (6, 7, 11)
CONFIDENCE_BINS = 10
GALLERY_WIDTH = 1600
GALLERY_PAGES = 60  # wrong pages shown at most, the worst first
DIGIT_SCAN = 64  # px: the size real 16x16 digits are drawn at before they are cut out
REAL_DIGITS = ("usps_test", "semeion")  # of ``digits/``; USPS' training half is left alone


@dataclass
class Reading:
    """What a tool read on one image: its lines, and per digit a confidence where it has one."""

    lines: list[str]
    confidences: list[float] = field(default_factory=list)  # one per digit of the lines


@dataclass
class SourceResult:
    """One tool on one source: its readings by file name and the seconds it took."""

    readings: dict[str, Reading]
    seconds: float
    detail: str = ""  # e.g. the Tesseract mode chosen


def digits_only(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def digit_lines(texts: list[str]) -> list[str]:
    """Lines of a peer's output as digit lines: other characters dropped, runs of spaces
    made one, blank lines dropped."""
    lines = (re.sub(r"\s+", " ", re.sub(r"[^0-9 ]", "", text)).strip() for text in texts)
    return [line for line in lines if line]


# --- data ---------------------------------------------------------------------------------


def load_truth(pages: Path) -> dict[str, dict[str, list[str]]]:
    """source -> file name -> true lines, from ``truth.jsonl``."""
    truth: dict[str, dict[str, list[str]]] = defaultdict(dict)
    with open(pages / "truth.jsonl", encoding="utf-8") as file:
        for line in file:
            record = json.loads(line)
            source, name = record["page"].split("/", 1)
            truth[source][name] = record["lines"]
    return dict(sorted(truth.items()))


# --- the classifier alone on real digits -------------------------------------------------


def real_digit_accuracy(path: Path, recognizer: Recognizer) -> tuple[float, int]:
    """The share of a file of real isolated digits (``digits/*.npz``: x uint8 (N, 16, 16),
    white ink on black; y (N,)) the classifier reads right, normalised as the scanner
    normalises a blob: enlarged to DIGIT_SCAN px, cut out at half ink, fitted MNIST's way.
    Returns the accuracy and the number of digits."""
    data = np.load(path)
    images = np.zeros((len(data["y"]), 28, 28), np.uint8)
    for i, digit in enumerate(data["x"]):
        scanned = cv2.resize(digit, (DIGIT_SCAN, DIGIT_SCAN), interpolation=cv2.INTER_CUBIC)
        images[i] = normalize_blob(scanned >= 128)
    labels, _, _ = recognizer.interpret(recognizer.predict_proba(images))
    return float(np.mean(labels == data["y"])), len(images)


# --- readers ------------------------------------------------------------------------------


def run_notes_ocr(folder: Path, model: Path | None = None) -> SourceResult:
    """``notes-ocr scan --format jsonl FOLDER`` in a fresh process, timed whole. The truths
    hold digits alone, so its separators are left out, as the peers' other characters are:
    a dot read as a dot costs nothing."""
    records, seconds = scan_folder(folder, model)
    readings = {
        Path(record["source"]).name: Reading(
            digit_lines([entry["text"] for entry in record["lines"]]),
            [char["confidence"] for entry in record["lines"] for char in entry["chars"]
             if char["char"].isdigit()])
        for record in records
    }
    return SourceResult(readings, seconds)


def run_tesseract(folder: Path, truth: dict[str, list[str]]) -> SourceResult:
    """Every image in every mode of TESSERACT_PSMS; the mode with the fewest digit errors
    over the whole source is kept (one choice for all its images, not one per image)."""
    lines, seconds, _ = page_benchmark.run_tesseract(folder, list(truth), psms=TESSERACT_PSMS)
    read = {psm: {name: Reading(digit_lines(found)) for name, found in lines[psm].items()}
            for psm in TESSERACT_PSMS}
    errors = {psm: total(score_pages(truth, read[psm]).values()).digit_errors
              for psm in TESSERACT_PSMS}
    best = min(TESSERACT_PSMS, key=lambda psm: (errors[psm], psm))
    return SourceResult(read[best], seconds[best], f"psm {best}")


def rapidocr_engine():
    """RapidOCR with its default models (PP-OCRv6 in rapidocr 3.10), or None without it."""
    try:
        from rapidocr import RapidOCR
    except ImportError:
        return None
    import logging

    logging.getLogger("RapidOCR").setLevel(logging.WARNING)
    return RapidOCR()


def run_rapidocr(engine, folder: Path, names: list[str]) -> SourceResult:
    """Each image through RapidOCR in this process (its models loaded before timing)."""
    readings = {}
    start = time.perf_counter()
    for name in names:
        result = engine(str(folder / name))
        readings[name] = Reading(digit_lines(list(result.txts or ())))
    return SourceResult(readings, time.perf_counter() - start)


# --- scores -------------------------------------------------------------------------------


@dataclass
class SourceScore:
    """A tool's scores over one source."""

    score: Score  # digit error and exact lines (metrics.Score)
    digit_strings_exact: int = 0  # pages whose digits are all right, spaces aside
    nearest_line_errors: int = 0  # single-line truths: digit errors of the nearest line
    nearest_line_digits: int = 0

    @property
    def exact_digit_string_rate(self) -> float:
        return self.digit_strings_exact / max(self.score.pages, 1)

    @property
    def nearest_line_error_rate(self) -> float | None:
        if not self.nearest_line_digits:
            return None
        return self.nearest_line_errors / self.nearest_line_digits


def score_pages(truth: dict[str, list[str]], readings: dict[str, Reading]) -> dict[str, Score]:
    scores = {}
    for name, lines in truth.items():
        scores[name] = Score()
        scores[name].add(readings.get(name, Reading([])).lines, lines)
    return scores


def score_source(truth: dict[str, list[str]], readings: dict[str, Reading]) -> SourceScore:
    result = SourceScore(total(score_pages(truth, readings).values()))
    for name, lines in truth.items():
        read = readings.get(name, Reading([])).lines
        true_digits = digits_only("".join(lines))
        result.digit_strings_exact += digits_only("".join(read)) == true_digits
        if len(lines) == 1:
            distances = [levenshtein(digits_only(line), true_digits) for line in read]
            result.nearest_line_errors += min(distances, default=len(true_digits))
            result.nearest_line_digits += len(true_digits)
    return result


def confidence_outcomes(truth: dict[str, list[str]], readings: dict[str, Reading]
                        ) -> tuple[np.ndarray, np.ndarray]:
    """(confidence, right) of every digit read: right when the Levenshtein alignment of the
    page's digits pairs it with the same true digit."""
    confidences, right = [], []
    for name, lines in truth.items():
        reading = readings.get(name)
        if reading is None:
            continue
        read = digits_only("".join(reading.lines))
        if len(read) != len(reading.confidences):  # '?' digits carry no reading
            continue
        true = digits_only("".join(lines))
        matched = {i for i, j in align(read, true) if i is not None and j is not None
                   and read[i] == true[j]}
        confidences.extend(reading.confidences)
        right.extend(i in matched for i in range(len(read)))
    return np.array(confidences, np.float64), np.array(right, bool)


def calibration(confidences: np.ndarray, right: np.ndarray, bins: int = CONFIDENCE_BINS
                ) -> tuple[float, list[tuple[float, float, int]]]:
    """Expected calibration error and per bin (mean confidence, accuracy, count)."""
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidences, edges[1:-1]), 0, bins - 1)
    table, ece = [], 0.0
    for b in range(bins):
        members = which == b
        if not members.any():
            continue
        mean, accuracy = float(confidences[members].mean()), float(right[members].mean())
        ece += members.sum() / len(confidences) * abs(mean - accuracy)
        table.append((mean, accuracy, int(members.sum())))
    return ece, table


# --- pictures -----------------------------------------------------------------------------


def reliability_plot(table: list[tuple[float, float, int]], ece: float, path: Path) -> None:
    """Accuracy against confidence per bin, beside the diagonal."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("no reliability plot: matplotlib is not installed (pip install matplotlib)")
        return
    figure, axes = plt.subplots(figsize=(5, 5))
    axes.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
    means, accuracies, counts = zip(*table, strict=True) if table else ((), (), ())
    axes.scatter(means, accuracies, s=[10 + 200 * c / max(counts) for c in counts])
    axes.plot(means, accuracies)
    axes.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence", ylabel="share read right",
             title=f"notes-ocr digits on real images (ECE {ece:.1%})")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def gallery(data: Path, wrong: list[tuple[str, list[str], list[str]]], path: Path) -> None:
    """A PNG of the pages read wrong: each image with its truth (green) and reading (red)."""
    tiles = []
    for page, truth, read in wrong[:GALLERY_PAGES]:
        image = cv2.imread(str(data / page))
        if image is None:
            continue
        scale = min(1.0, 360 / image.shape[1], 200 / image.shape[0])
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        captions = [(page, (60, 60, 60)), ("truth: " + " | ".join(truth), (0, 120, 0)),
                    ("read:  " + (" | ".join(read) or "(nothing)"), (0, 0, 200))]
        width = max(image.shape[1], 360)
        tile = np.full((image.shape[0] + 18 * len(captions) + 8, width, 3), 255, np.uint8)
        tile[: image.shape[0], : image.shape[1]] = image
        for row, (text, colour) in enumerate(captions):
            cv2.putText(tile, text[:60], (2, image.shape[0] + 16 + 18 * row),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.42, colour, 1, cv2.LINE_AA)
        tiles.append(tile)
    if not tiles:
        return
    rows, row, used = [], [], 0
    for tile in tiles:
        if row and used + tile.shape[1] > GALLERY_WIDTH:
            rows.append(row)
            row, used = [], 0
        row.append(tile)
        used += tile.shape[1] + 6
    rows.append(row)
    strips = []
    for row in rows:
        strip = np.full((max(t.shape[0] for t in row) + 6, GALLERY_WIDTH, 3), 200, np.uint8)
        x = 0
        for tile in row:
            strip[: tile.shape[0], x : x + tile.shape[1]] = tile
            x += tile.shape[1] + 6
        strips.append(strip)
    cv2.imwrite(str(path), np.vstack(strips))


# --- report -------------------------------------------------------------------------------


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def row(source: str, tool: str, scored: SourceScore, result: SourceResult) -> str:
    score = scored.score
    rate = score.pages / max(result.seconds, 1e-9)
    tool = f"{tool} ({result.detail})" if result.detail else tool
    return (f"| {source} | {tool} | {score.pages} | {percent(score.digit_error_rate)} | "
            f"{percent(scored.nearest_line_error_rate)} | {percent(score.exact_line_rate)} | "
            f"{percent(scored.exact_digit_string_rate)} | {rate:.2f} |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="the realdata folder")
    parser.add_argument("--out", type=Path, default=OUT, help="where the pictures go")
    parser.add_argument("--no-peers", action="store_true", help="score notes-ocr only")
    parser.add_argument("--json", type=Path, help="write the numbers to this JSON file")
    parser.add_argument("--model", type=Path, help="a model file or folder (default: shipped)")
    args = parser.parse_args(argv)

    pages = args.data / "pages"
    if not (pages / "truth.jsonl").is_file():
        sys.exit(f"benchmarks.real: no real images at {pages} (truth.jsonl missing); "
                 "nothing to score")
    truth = load_truth(pages)
    args.out.mkdir(parents=True, exist_ok=True)
    peers = not args.no_peers
    have_tesseract = peers and shutil.which("tesseract") is not None
    engine = rapidocr_engine() if peers else None
    if peers and not have_tesseract:
        print("Tesseract is not installed (apt-get install -y tesseract-ocr): left out")
    if peers and engine is None:
        print("RapidOCR is not installed (pip install 'notes-ocr[bench]'): left out")

    rows, numbers = [], {}
    all_confidences, all_right, wrong = [], [], []
    for source, source_truth in truth.items():
        folder = pages / source
        ours = run_notes_ocr(folder, args.model)
        tools = {"notes-ocr": ours}
        if have_tesseract:
            tools["Tesseract"] = run_tesseract(folder, source_truth)
        if engine is not None:
            tools["RapidOCR"] = run_rapidocr(engine, folder, list(source_truth))
        numbers[source] = {}
        for tool, result in tools.items():
            scored = score_source(source_truth, result.readings)
            rows.append(row(source, tool, scored, result))
            numbers[source][tool] = {
                "pages": scored.score.pages,
                "digit_error_rate": scored.score.digit_error_rate,
                "nearest_line_digit_error_rate": scored.nearest_line_error_rate,
                "exact_line_rate": scored.score.exact_line_rate,
                "exact_digit_string_rate": scored.exact_digit_string_rate,
                "pages_per_second": scored.score.pages / max(result.seconds, 1e-9),
                "detail": result.detail,
            }
        confidences, right = confidence_outcomes(source_truth, ours.readings)
        all_confidences.append(confidences)
        all_right.append(right)
        ece, _ = calibration(confidences, right)
        numbers[source]["notes-ocr"]["ece"] = ece
        for name, lines in source_truth.items():
            read = ours.readings.get(name, Reading([])).lines
            errors = levenshtein(digits_only("".join(read)), digits_only("".join(lines)))
            if errors:
                wrong.append((errors / max(len(digits_only("".join(lines))), 1),
                              f"{source}/{name}", lines, read))

    print("| source | tool | pages | digit error | digit error, nearest line | exact lines | "
          "exact digit strings | pages/s |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    if have_tesseract:
        print(f"\nTesseract {tesseract_version()}, digits only, best of psm "
              f"{', '.join(map(str, TESSERACT_PSMS))} per source; pages/s: one image at a "
              "time, each a process, start-up included.")
    if engine is not None:
        from importlib.metadata import version

        print(f"RapidOCR {version('rapidocr')} (onnxruntime {version('onnxruntime')}), "
              "digits and spaces of each text box kept, a box a line; pages/s in one "
              "process, models loaded before timing.")
    print("notes-ocr: one `notes-ocr scan --format jsonl FOLDER` a source, start-up included.")

    recognizer = Recognizer.load(args.model)
    print("\nThe classifier alone on real isolated digits, normalised as the scanner does:")
    for name in REAL_DIGITS:
        path = args.data / "digits" / f"{name}.npz"
        if path.is_file():
            accuracy, count = real_digit_accuracy(path, recognizer)
            numbers[name] = {"accuracy": accuracy, "digits": count}
            print(f"    {name}: {accuracy:.1%} of {count} digits")

    confidences, right = np.concatenate(all_confidences), np.concatenate(all_right)
    ece, table = calibration(confidences, right)
    numbers["calibration"] = {"ece": ece, "digits": len(confidences), "bins": table}
    print(f"\nnotes-ocr confidence on real digits: {len(confidences)} digits read, "
          f"{right.mean():.1%} of them right; expected calibration error {ece:.1%}")
    print("| confidence bin mean | share right | digits |")
    print("|---|---|---|")
    for mean, accuracy, count in table:
        print(f"| {mean:.3f} | {accuracy:.1%} | {count} |")
    reliability_plot(table, ece, args.out / "reliability.png")
    wrong.sort(key=lambda item: -item[0])
    gallery(pages, [(page, lines, read) for _, page, lines, read in wrong],
            args.out / "gallery.png")
    print(f"\npictures (outside the repository, as the data's licences ask): "
          f"{args.out / 'gallery.png'} ({min(len(wrong), GALLERY_PAGES)} of the {len(wrong)} "
          f"pages read wrong), {args.out / 'reliability.png'}")
    if args.json:
        args.json.write_text(json.dumps(numbers, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

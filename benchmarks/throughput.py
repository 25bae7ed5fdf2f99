"""Throughput benchmark: `notes-ocr scan` on folders of realistic pages, against decoding.

    python -m benchmarks.throughput [--scans 60] [--photos 30] [--per-family 24]
                                    [--cache benchmarks/.cache/throughput] [--runs 3]
                                    [--profile-pages N] [--no-profile] [--json PATH]

Three folders, each built once and cached:

- JPEG scans: ``--scans`` pages of plain, ruled and grid paper written in both hands (MNIST
  digits and the script hand), A4 and A5 at 300 dpi, JPEG quality 60-95: what users scan;
- JPEG phone photos: ``--photos`` photos of such sheets on a desk, 150-250 dpi;
- the mix: ``--per-family`` pages of each family of ``benchmarks.pages`` (JPEG and PNG, A5
  and A4 at 150-300 dpi), the last four of each family bundled as one four-page TIFF.

For each folder, in one run and on the same files:

- decode only: pages per second of ``cv2.imread`` alone in this one process
  (``cv2.imreadmulti`` for the TIFFs), the files already in the OS cache;
- scan: pages per second of the real CLI, ``python -m notes_ocr scan -o OUT.jsonl FOLDER``
  in a fresh process with the default ``--jobs``, start-up included;
- their ratio; the floor (0.35) is the JPEG scans'. Each rate is the median of ``--runs``
  timings, a decode pass and a scan taken in turn, so that a busy spell of a shared
  machine slows both sides rather than one;
- memory: the peak resident memory of the scan's whole process tree (main process, fork
  server, workers), sampled while it runs, for the first 10 pages and for all of them.

The physical limit, on the JPEG scans: decoding alone, and decoding to grey plus the
cheapest binarisation of the page (one Otsu threshold), in one process.

Where the time goes, on the JPEG scans, over the first ``--profile-pages`` pages (default:
all): each stage timed in this one process without the profiler, a page and a candidate,
with segmentation's parts for the half-size pilot and the page at its working size; then a
cProfile of ``notes-ocr scan --jobs 1 --page-timeout 0`` (everything in one process),
summed by stage. No PDFs: ``cv2.imread`` cannot decode them, so the
decode-only rate would not be of the same files.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from multiprocessing import Pool
from pathlib import Path

import cv2
import numpy as np

import benchmarks.pages as page_benchmark
from benchmarks.pages import FAMILIES, HERE, build_pages
from notes_ocr.testing import synth

CACHE = HERE / ".cache" / "throughput"
FLOOR = 0.35
PAGES_PER_TIFF = 4
# Stages of a scan: (name, module file, function) whose cumulative profile time is summed.
STAGES = [
    ("decode (read the file)", "sources.py", "read_page"),
    ("segment", "segment.py", "segment_page"),
    ("candidates and normalize", "decode.py", "propose"),
    ("  of which normalize_blob", "normalize.py", "normalize_blob"),
    ("classify (MLP forward pass)", "batch.py", "classify"),
    ("decode DP (choose)", "decode.py", "choose"),
    ("lines and groups (layout.lay_out)", "layout.py", "lay_out"),
    ("writing records", "results.py", "write"),
]


# --- the folder -------------------------------------------------------------------------------


def build_folder(cache: Path, per_family: int, seed: int = 2024) -> Path:
    """The mixed folder: the benchmark pages, the last few of each family as a TIFF."""
    source = cache / f"pages-{per_family}-{seed}"
    truth = build_pages(source, per_family, seed)
    digest = hashlib.sha256(json.dumps(sorted(truth)).encode()).hexdigest()[:10]
    folder = cache / f"mixed-{per_family}-{digest}"
    if (folder / ".done").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for family in FAMILIES:
        names = sorted(name for name in truth if name.startswith(family + "_"))
        keep, bundle = names[:-PAGES_PER_TIFF], names[-PAGES_PER_TIFF:]
        for name in keep:
            (folder / name).write_bytes((source / name).read_bytes())
        if bundle:
            pages = [cv2.imread(str(source / name), cv2.IMREAD_GRAYSCALE) for name in bundle]
            params = [cv2.IMWRITE_TIFF_COMPRESSION, 8]  # deflate, as scanners often write
            if not cv2.imwritemulti(str(folder / f"{family}_bundle.tif"), pages, params):
                raise SystemExit(f"{folder}: cannot write a TIFF")
    (folder / ".done").write_text("")
    return folder


SCAN_DPI = 300
SCAN_KINDS = ("plain", "ruled", "grid")


def jpeg_spec(rng: np.random.Generator, kind: str, number: int) -> synth.PageSpec:
    """A JPEG page: a scan of ``kind`` paper at SCAN_DPI, or with ``kind="photo"`` a phone
    photo; every other page in the script hand."""
    style = synth.STYLES[number % len(synth.STYLES)]
    spec = synth.random_spec(rng, kind, style=style)
    if kind == "photo":
        return spec
    f = SCAN_DPI / spec.dpi
    return replace(
        spec, width=round(spec.width * f), height=round(spec.height * f), dpi=float(SCAN_DPI),
        digit_height_px=spec.digit_height_px * f, pen_width_px=spec.pen_width_px * f,
        blur=spec.blur * f, jpeg_quality=spec.jpeg_quality or int(rng.integers(60, 96)),
    )  # fmt: skip


def _render_jpeg(job: tuple[Path, str, int, int]) -> None:
    """Write one page; ``job`` is (folder, kind, seed, page number). Runs in a worker that
    ``benchmarks.pages._load_digits`` started."""
    folder, kind, seed, number = job
    spec = jpeg_spec(np.random.default_rng([seed, number]), kind, number)
    mnist = page_benchmark._MNIST
    page = synth.make_page(spec, mnist.x_test, mnist.y_test)
    synth.write_page(page, folder / f"{kind}_{number:03d}.jpg", jpeg_quality=spec.jpeg_quality)


def build_jpeg_folder(cache: Path, name: str, kinds: tuple[str, ...], count: int,
                      seed: int = 2024) -> Path:
    """``count`` JPEG pages, of ``kinds`` in turn (written once, in a folder named by the
    generator's source)."""
    digest = hashlib.sha256(Path(synth.__file__).read_bytes())
    digest.update(repr((kinds, count, seed, SCAN_DPI)).encode())
    folder = cache / f"{name}-{count}-{digest.hexdigest()[:10]}"
    if (folder / ".done").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    jobs = [(folder, kinds[n % len(kinds)], seed, n) for n in range(count)]
    with Pool(min(2, os.cpu_count() or 1), initializer=page_benchmark._load_digits) as pool:
        list(pool.imap_unordered(_render_jpeg, jobs))
    (folder / ".done").write_text("")
    return folder


def page_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix in (".jpg", ".png", ".tif"))


# --- decode only --------------------------------------------------------------------------------


def decode_all(files: list[Path]) -> int:
    """Decode every page of ``files`` with OpenCV alone; return the number of pages."""
    pages = 0
    for path in files:
        if path.suffix == ".tif":
            ok, frames = cv2.imreadmulti(str(path))
            if not ok:
                raise SystemExit(f"{path}: cannot decode")
            pages += len(frames)
        else:
            if cv2.imread(str(path)) is None:
                raise SystemExit(f"{path}: cannot decode")
            pages += 1
    return pages


def decode_seconds(files: list[Path]) -> float:
    """Seconds ``decode_all`` takes over ``files``."""
    start = time.perf_counter()
    decode_all(files)
    return time.perf_counter() - start


def binarize_seconds(files: list[Path]) -> float:
    """Seconds to decode ``files`` (JPEG or PNG) to grey and threshold each page once (Otsu):
    the least any reader of ink must do."""
    start = time.perf_counter()
    for path in files:
        grey = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    return time.perf_counter() - start


# --- scan ---------------------------------------------------------------------------------------


def tree_rss(root: int) -> int:
    """Resident bytes of process ``root`` and all its descendants (Linux /proc)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as stat:
                    fields = stat.read().rsplit(b")", 1)[1].split()
                parents[int(entry)] = int(fields[1])
            except (OSError, IndexError, ValueError):
                continue
    tree, grew = {root}, True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                grew = True
    total = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/statm") as statm:
                total += int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    return total


def run_scan(paths: list[Path], out: Path) -> tuple[float, int, str]:
    """Run the CLI on ``paths``; return its wall time, the peak RSS of its process tree and
    its summary line."""
    command = [sys.executable, "-m", "notes_ocr", "scan", "-o", str(out), *map(str, paths)]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, tree_rss(process.pid))
            stop.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    if sys.platform.startswith("linux"):
        sampler.start()
    _, err = process.communicate()
    elapsed = time.perf_counter() - start
    stop.set()
    if sampler.is_alive():
        sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"notes-ocr failed ({process.returncode}): {err.strip()}")
    return elapsed, peak, err.strip().splitlines()[-1]


# --- profile ------------------------------------------------------------------------------------


def profile(files: list[Path], pages: int, out: Path) -> tuple[list[tuple[str, float]], float,
                                                                pstats.Stats, int]:
    """cProfile of the CLI with --jobs 1 over the files holding the first ``pages`` pages.

    Returns seconds per stage, the total, the stats and the number of pages profiled.
    """
    from notes_ocr.cli import main

    chosen, count = [], 0
    for path in files:
        if count >= pages:
            break
        chosen.append(path)
        count += PAGES_PER_TIFF if path.suffix == ".tif" else 1
    profiler = cProfile.Profile()
    start = time.perf_counter()
    # No time limit: with one, even --jobs 1 reads its pages in a worker process.
    profiler.runcall(main, ["scan", "--quiet", "--jobs", "1", "--page-timeout", "0", "-o", str(out),
                            *map(str, chosen)])
    total = time.perf_counter() - start
    stats = pstats.Stats(profiler)
    cumulative: dict[tuple[str, str], float] = {}
    for (file, _, function), (_, _, _, cum, _) in stats.stats.items():  # type: ignore[attr-defined]
        key = (Path(file).name, function)
        # A recursive or repeated entry point counts once: take the largest.
        cumulative[key] = max(cumulative.get(key, 0.0), cum)
    stages = [(name, cumulative.get((file, function), 0.0)) for name, file, function in STAGES]
    return stages, total, stats, count


# Parts of segment.py timed without the profiler (which slows many small calls more than a
# few large ones), each counted to the pass it runs in: the half-size pilot or the page at
# its working size.
SEGMENT_PARTS = ["resized", "find_sheet", "paper_light", "ink_darkness", "estimate_skew",
                 "rotate", "darkness_in", "remove_rulings", "label_ink", "pieces_of"]


# The stages whose work grows with the candidates rather than the page's pixels.
PER_CANDIDATE = {"candidates and normalize", "classify (MLP forward pass)",
                 "decode DP, lines, groups"}


def stage_times(files: list[Path], pages: int) -> tuple[dict[str, float], float, int]:
    """Milliseconds a page of each stage and part of the scan over the first ``pages`` JPEG
    scans, in this one process and without the profiler (the forward pass with one BLAS
    thread, as the batch's main process runs it); the candidates a page; and the pages."""
    from threadpoolctl import threadpool_limits

    from notes_ocr import pipeline, segment
    from notes_ocr.sources import iter_pages

    seconds: dict[str, float] = {}
    now = {"pass": "pilot"}  # the pass of segmentation that runs: the pilot, then full size

    def timed(name, function, in_pass: bool = False):
        def run(*args, **kwargs):
            key = f"segment: {now['pass']}: {name}" if in_pass else name
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                seconds[key] = seconds.get(key, 0.0) + time.perf_counter() - start
        return run

    def clean_darkness(grey, scale, longest, sheet=None, skew=None, *args, **kwargs):
        # The pilot finds the skew; the page at its working size is given it.
        now["pass"] = "pilot" if skew is None else "full size"
        return originals[segment, "clean_darkness"](grey, scale, longest, sheet, skew, *args,
                                                    **kwargs)

    wrappers = {(segment, name): timed(name, getattr(segment, name), in_pass=True)
                for name in SEGMENT_PARTS}
    wrappers[segment, "clean_darkness"] = clean_darkness
    wrappers[pipeline, "segment_page"] = timed("segment", pipeline.segment_page)
    wrappers[pipeline, "propose"] = timed("candidates and normalize", pipeline.propose)
    originals = {(module, name): getattr(module, name) for module, name in wrappers}
    scanner = pipeline.Scanner()
    classify = timed("classify (MLP forward pass)", scanner.recognizer.predict_proba)
    finish = timed("decode DP, lines, groups", scanner.finish)
    candidates = count = 0
    images = timed("decode (read the file)", lambda: list(iter_pages(files[:pages], None)))()
    pipeline.prepare(images[0])  # what is imported at the first page's use is not timed
    try:
        for (module, name), wrapper in wrappers.items():
            setattr(module, name, wrapper)
        for page in images:
            prepared = pipeline.prepare(page)
            with threadpool_limits(limits=1, user_api="blas"):
                finish(prepared, classify(prepared.images))
            candidates += len(prepared.images)
            count += 1
    finally:
        for (module, name), function in originals.items():
            setattr(module, name, function)
    per_page = {name: 1000 * value / max(count, 1) for name, value in seconds.items()}
    return per_page, candidates / max(count, 1), count


def top_functions(stats: pstats.Stats, n: int = 12) -> list[tuple[str, float, int]]:
    """The ``n`` functions with the most time of their own: (name, seconds, calls)."""
    rows = []
    for (file, line, function), (_, calls, own, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        where = f"{Path(file).name}:{line}" if line else file
        rows.append((f"{function} ({where})", own, calls))
    return sorted(rows, key=lambda row: -row[1])[:n]


# --- main ---------------------------------------------------------------------------------------


def measure(name: str, folder: Path, runs: int, scratch: Path,
            limits: bool = False) -> dict[str, float | int | list[float]]:
    """Decode-only and scan rates of one folder (medians of ``runs`` taken in turn), their
    ratio and the scan's peak memory; with ``limits``, decoding plus binarising too."""
    files = page_files(folder)
    pages = decode_all(files)  # warms the OS file cache, as the scan finds it
    decoding, binarizing, scanning, peak, summary = [], [], [], 0, ""
    for run in range(runs):
        decoding.append(decode_seconds(files))
        if limits:
            binarizing.append(binarize_seconds(files))
        elapsed, run_peak, summary = run_scan([folder], scratch / f"{folder.name}-{run}.jsonl")
        scanning.append(elapsed)
        peak = max(peak, run_peak)
    few = [path for path in files if path.suffix != ".tif"][:10]
    _, few_peak, _ = run_scan(few, scratch / "few.jsonl")
    decode = pages / statistics.median(decoding)
    scan = pages / statistics.median(scanning)
    print(f"\n{name}: {folder} ({pages} pages in {len(files)} files)")
    print(f"  decode only (cv2.imread, one process): {decode:.2f} pages/s "
          f"({', '.join(f'{s:.2f}' for s in decoding)} s)")
    numbers = {"pages": pages, "files": len(files), "decode_pages_per_second": decode,
               "scan_pages_per_second": scan, "ratio": scan / decode,
               "runs": {"decode_seconds": decoding, "scan_seconds": scanning},
               "peak_rss_bytes": {"10": few_peak, str(pages): peak}}  # fmt: skip
    if limits:
        binarize = pages / statistics.median(binarizing)
        numbers["binarize_pages_per_second"] = binarize
        print(f"  decode to grey + one Otsu threshold (one process): {binarize:.2f} pages/s "
              f"({', '.join(f'{s:.2f}' for s in binarizing)} s)")
    print(f"  notes-ocr scan FOLDER (default --jobs, start-up included): {scan:.2f} pages/s "
          f"({', '.join(f'{s:.1f}' for s in scanning)} s); last summary: {summary}")
    print(f"  ratio scan / decode only: {scan / decode:.3f}")
    if limits:
        print(f"  ratio scan / (decode + binarize): {scan / binarize:.3f}")
    if peak:
        print(f"  peak memory of the scan's process tree: {few_peak / 2**20:.0f} MiB for "
              f"10 pages, {peak / 2**20:.0f} MiB for {pages} pages")
    return numbers


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=60, help="JPEG scans")
    parser.add_argument("--photos", type=int, default=30, help="JPEG phone photos")
    parser.add_argument("--per-family", type=int, default=24,
                        help="pages per family in the mixed folder")
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--runs", type=int, default=3,
                        help="timings of each side, taken in turn; the medians are compared")
    parser.add_argument("--profile-pages", type=int, default=None, help="default: all")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--json", type=Path, help="write the numbers to this JSON file")
    args = parser.parse_args(argv)
    began = time.perf_counter()

    if args.runs < 1:
        parser.error("--runs must be at least 1")
    folders = {
        "JPEG scans": build_jpeg_folder(args.cache, "jpeg-scans", SCAN_KINDS, args.scans),
        "JPEG phone photos": build_jpeg_folder(args.cache, "jpeg-photos", ("photo",),
                                               args.photos),
        "mix": build_folder(args.cache, args.per_family),
    }
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"{cores} cores; medians of {args.runs} runs, decode and scan taken in turn")
    numbers: dict[str, object] = {"cores": cores, "floor": FLOOR}
    with tempfile.TemporaryDirectory() as scratch:
        for name, folder in folders.items():
            numbers[name] = measure(name, folder, args.runs, Path(scratch),
                                    limits=name == "JPEG scans")
        ratio = numbers["JPEG scans"]["ratio"]
        print(f"\nJPEG scans: ratio {ratio:.3f} (floor: at least {FLOOR}) -> "
              f"{'met' if ratio >= FLOOR else 'NOT met'}")

        if not args.no_profile:
            files = page_files(folders["JPEG scans"])
            times, per_page, timed_pages = stage_times(files, args.profile_pages or len(files))
            print(f"\nstages on the JPEG scans without the profiler, in one process over "
                  f"{timed_pages} pages ({per_page:.0f} candidates a page):")
            print("| stage | ms a page | us a candidate |")
            print("|---|---|---|")
            # The stages first, then segmentation's parts by pass (``darkness_in`` holds the
            # resizing and the light of the part under the writing's box).
            for name in sorted(times, key=lambda name: (name.startswith("segment:"),
                                                        "full size" in name)):
                each = f"{1000 * times[name] / per_page:.0f}" if name in PER_CANDIDATE else "-"
                print(f"| {name} | {times[name]:.1f} | {each} |")
            numbers["stages"] = {"pages": timed_pages, "candidates a page": per_page,
                                 "ms a page": times}

            stages, total, stats, profiled = profile(files, args.profile_pages or len(files),
                                                     Path(scratch) / "profiled.jsonl")
            print(f"\nprofile on the JPEG scans: notes-ocr scan --jobs 1 over {profiled} pages, "
                  f"{total:.1f} s in all ({total / profiled:.2f} s a page, under cProfile)")
            print("| stage | seconds | share | per page |")
            print("|---|---|---|---|")
            for name, value in stages:
                print(f"| {name} | {value:.1f} | {value / total:.0%} | {value / profiled:.3f} |")
            counted = sum(value for name, value in stages if not name.startswith(" "))
            other = total - counted
            print(f"| other (start-up, planning, finishing) | {other:.1f} | {other / total:.0%} "
                  f"| {other / profiled:.3f} |")
            print("\nfunctions with the most time of their own:")
            for name, own, calls in top_functions(stats):
                print(f"  {own:6.2f} s  {calls:8d} calls  {name}")
            numbers["profile"] = {"pages": profiled, "seconds": total, "stages": dict(stages)}

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(numbers, indent=2) + "\n")
    print(f"\nbenchmark run time: {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()

"""Fuzz targets: each entry point of notes-ocr, what hypothesis feeds it, and the property
that it gives a result or a NotesOcrError with a one-line message (``benchmarks/fuzz.py``
runs them long, ``tests/test_fuzz.py`` derandomized). Needs hypothesis (the test extra)."""


from __future__ import annotations

import functools
import io
import json
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from notes_ocr.batch import recover_jsonl
from notes_ocr.errors import ModelError, NotesOcrError
from notes_ocr.pipeline import Scanner
from notes_ocr.recognizer import MODEL_FORMAT, N_PIXELS, Recognizer
from notes_ocr.sources import count_pages, decode

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FUZZ_PATH = Path("fuzzed")
# Pages are refused above this (the real default is 100 megapixels): a header fuzzed to
# declare a large page must not make each example decode tens of megabytes.
FUZZ_MAX_PIXELS = 2_000_000


@dataclass(frozen=True)
class Target:
    """An entry point, what to feed it, and ``check``: one example in, its outcome's name
    out; anything it raises is a failure."""

    name: str
    strategy: st.SearchStrategy
    check: Callable[[Any], str]


def one_line(exc: NotesOcrError) -> str:
    message = str(exc)
    assert message and "\n" not in message, f"not a one-line message: {message!r}"
    return type(exc).__name__


# --- bytes: the decoders -----------------------------------------------------------------


@functools.cache
def seed_files() -> tuple[bytes, ...]:
    """Small real files of every format read, for the fuzzer to damage."""
    page = cv2.imread(str(EXAMPLES / "plain_black.png"))[90:130, 40:100]
    grey = cv2.cvtColor(page, cv2.COLOR_BGR2GRAY)
    files = [cv2.imencode(suffix, image)[1].tobytes()
             for suffix in (".png", ".jpg", ".bmp", ".webp", ".tif")
             for image in (page, grey)]
    ok, multi = cv2.imencodemulti(".tif", [grey, page])
    assert ok
    files.append(multi.tobytes())
    files.append(pdf_seed())
    return tuple(files)


def pdf_seed() -> bytes:
    """A small two-page PDF, written by pdfium itself."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument.new()
    document.new_page(60, 40)
    document.new_page(40, 60)
    out = io.BytesIO()
    document.save(out)
    document.close()
    return out.getvalue()


MAGICS = [b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"II*\x00", b"MM\x00*", b"BM", b"%PDF-",
          b"RIFF\x00\x00\x00\x00WEBPVP8 ", b"RIFF\x00\x00\x00\x00WEBPVP8L",
          b"RIFF\x00\x00\x00\x00WEBPVP8X"]


@st.composite
def mutated_files(draw: st.DrawFn) -> bytes:
    """A seed file with a few bytes flipped, set, inserted or deleted, or cut short."""
    data = bytearray(draw(st.sampled_from(seed_files())))
    for _ in range(draw(st.integers(1, 6))):
        # Half the edits in the first 64 bytes, where headers give sizes and offsets.
        at = draw(st.one_of(st.integers(0, 63), st.integers(0, len(data) - 1)))
        at = min(at, len(data) - 1)
        edit = draw(st.sampled_from(["flip", "set", "insert", "delete", "cut"]))
        if edit == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif edit == "set":
            data[at] = draw(st.sampled_from([0x00, 0x01, 0x7F, 0x80, 0xFF]))
        elif edit == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif edit == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        elif len(data) > 1:
            del data[max(1, at):]
        if not data:
            break
    return bytes(data)


hostile_bytes = st.one_of(
    st.binary(max_size=2048),
    st.builds(lambda magic, rest: magic + rest, st.sampled_from(MAGICS), st.binary(max_size=512)),
    mutated_files(),
)


def decode_bytes(example: tuple[bytes, int | None]) -> str:
    """``sources.decode`` (every page or one), and ``count_pages``, of hostile bytes."""
    data, number = example
    try:
        count = count_pages(FUZZ_PATH, data)
        pages = decode(data, FUZZ_PATH, number, FUZZ_MAX_PIXELS)
    except NotesOcrError as exc:
        return one_line(exc)
    assert count >= 1
    for page, image in pages:
        assert page >= 1 and image.dtype == np.uint8 and image.ndim == 2 and image.size > 0
    return "read"


# --- arrays: the scanner -------------------------------------------------------------------

ODD_DTYPES = [np.bool_, np.int8, np.uint8, np.uint16, np.int32, np.int64, np.uint64,
              np.float16, np.float32, np.float64, np.complex64, np.dtype("U3"),
              np.dtype("datetime64[s]")]

small_arrays = hnp.arrays(
    st.sampled_from(ODD_DTYPES),
    hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=12),
)
object_arrays = hnp.arrays(
    np.dtype(object),
    hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6),
    elements=st.one_of(st.none(), st.integers(), st.floats(), st.text(max_size=2)),
)


@functools.cache
def example_page() -> np.ndarray:
    return cv2.imread(str(EXAMPLES / "plain_black.png"), cv2.IMREAD_GRAYSCALE)


@st.composite
def page_arrays(draw: st.DrawFn) -> np.ndarray:
    """Larger arrays, made by numpy from drawn parameters: squares, and strips up to
    1:2000, of noise, ink on paper, one flat level or a real page squeezed to the shape;
    grey or with 1, 3 or 4 channels; of several dtypes, nan and inf among floats."""
    shape = draw(st.one_of(
        st.tuples(st.integers(1, 300), st.integers(1, 300)),
        st.tuples(st.integers(1, 16), st.integers(300, 6000)),
        st.tuples(st.integers(300, 6000), st.integers(1, 16)),
    ))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    content = draw(st.sampled_from(["noise", "ink", "flat", "page"]))
    if content == "noise":
        grey = rng.random(shape)
    elif content == "ink":
        grey = np.where(rng.random(shape) < draw(st.floats(0, 0.3)), 0.1, 0.95)
    elif content == "flat":
        grey = np.full(shape, draw(st.floats(0, 1)))
    else:
        resized = cv2.resize(example_page(), (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
        grey = resized / 255.0
    channels = draw(st.sampled_from([0, 1, 3, 4]))
    if channels:
        grey = np.repeat(grey[:, :, None], channels, axis=2)
    dtype = draw(st.sampled_from([np.uint8, np.uint16, np.int32, np.float32, np.float64,
                                  np.bool_]))
    if dtype == np.bool_:
        array = grey > 0.5
    elif np.dtype(dtype).kind == "f":
        array = grey.astype(dtype)
        for value in draw(st.lists(st.sampled_from([np.nan, np.inf, -np.inf]), max_size=3)):
            array.flat[rng.integers(array.size)] = value
    else:
        top = 65535 if dtype == np.uint16 else 255
        array = (grey * top).astype(dtype)
    return array


@functools.cache
def scanner() -> Scanner:
    return Scanner(max_pixels=FUZZ_MAX_PIXELS)


def scan_array(array: np.ndarray) -> str:
    """``Scanner.scan_array``: segmentation, decoding and classification of any array."""
    try:
        page = scanner().scan_array(array)
    except NotesOcrError as exc:
        return one_line(exc)
    assert page.error is None, page.error
    return "digits" if page.lines else "no digits"


# --- results files for --resume ------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=6),
    max_leaves=20,
)
record_like = st.fixed_dictionaries(
    {"source": json_values | st.text(max_size=12), "page": json_values | st.integers(-2, 9),
     "lines": json_values | st.lists(st.dictionaries(st.sampled_from(["digits", "text"]),
                                                     json_values), max_size=3),
     "error": json_values},
    optional={"width": json_values, "height": json_values},
)
jsonl_files = st.one_of(
    st.binary(max_size=1024),
    st.lists(st.one_of(record_like, json_values).map(lambda value: json.dumps(value) + "\n"),
             max_size=6).map(lambda lines: "".join(lines).encode()),
)


@functools.cache
def work_folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="notes-ocr-fuzz-"))


def resume_from(data: bytes) -> str:
    """``batch.recover_jsonl``: a results file that --resume goes on with."""
    path = work_folder() / "results.jsonl"
    path.write_bytes(data)
    try:
        state = recover_jsonl(path)
    except NotesOcrError as exc:
        return one_line(exc)
    assert state.pages >= 0
    return "resumed"


# --- model files ---------------------------------------------------------------------------

small_model_arrays = st.one_of(small_arrays, object_arrays, st.just(np.array(MODEL_FORMAT)),
                               st.just(np.array(["relu", "softmax"])),
                               st.just(np.zeros((N_PIXELS, 11), np.float32)))


@functools.cache
def small_models() -> tuple[bytes, ...]:
    """A valid one-layer model (784 -> 11 softmax), stored and deflated."""
    rng = np.random.default_rng(0)
    arrays = {"format": np.array(MODEL_FORMAT), "activations": np.array(["softmax"]),
              "kernel_0": rng.normal(size=(N_PIXELS, 11)).astype(np.float32),
              "bias_0": np.zeros(11, np.float32)}
    files = []
    for save in (np.savez, np.savez_compressed):
        out = io.BytesIO()
        save(out, **arrays)
        files.append(out.getvalue())
    return tuple(files)


@st.composite
def model_files(draw: st.DrawFn) -> bytes:
    """Random bytes; a valid small model with bytes changed (or not); or an .npz of arrays
    under the names a model's have."""
    kind = draw(st.sampled_from(["bytes", "model", "arrays"]))
    if kind == "bytes":
        return draw(st.binary(max_size=1024))
    if kind == "model":
        data = bytearray(draw(st.sampled_from(small_models())))
        for _ in range(draw(st.integers(0, 4))):
            at = draw(st.integers(0, len(data) - 1))
            data[at] ^= 1 << draw(st.integers(0, 7))
        return bytes(data)
    names = draw(st.lists(st.sampled_from(["format", "activations", "kernel_0", "bias_0",
                                           "kernel_1", "bias_1"]), unique=True, max_size=6))
    arrays = {name: draw(small_model_arrays) for name in names}
    out = io.BytesIO()
    np.savez(out, **arrays)  # object arrays are pickled: the loader must refuse them
    data = out.getvalue()
    if draw(st.booleans()) and data:
        cut = draw(st.integers(0, len(data)))
        data = data[:cut]
    return data


def load_model(data: bytes) -> str:
    """``Recognizer.load`` of a model file (the NumPy engine's .npz)."""
    path = work_folder() / "model.npz"
    path.write_bytes(data)
    try:
        Recognizer.load(path)
    except ModelError as exc:
        return one_line(exc)
    return "loaded"


TARGETS = [
    Target("decode", st.tuples(hostile_bytes, st.none() | st.integers(1, 3)), decode_bytes),
    Target("scan_array", st.one_of(small_arrays, object_arrays, page_arrays()), scan_array),
    Target("resume", jsonl_files, resume_from),
    Target("model", model_files(), load_model),
]


def fuzz(target: Target, examples: int, random_seed: int | None = None,
         derandomize: bool = False) -> Counter:
    """Run ``target`` on ``examples`` examples; the outcomes counted. A failure raises the
    smallest failing example's exception (hypothesis prints the example)."""
    outcomes: Counter = Counter()

    def check(example: Any) -> None:
        outcomes[target.check(example)] += 1

    test = settings(max_examples=examples, deadline=None, database=None,
                    derandomize=derandomize, suppress_health_check=list(HealthCheck))(
        given(target.strategy)(check)
    )
    if random_seed is not None:
        test = seed(random_seed)(test)
    test()
    return outcomes

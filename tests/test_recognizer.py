"""The shipped recogniser: both engines agree, it is accurate, and bad files fail clearly."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from notes_ocr.errors import ModelError
from notes_ocr.mnist import Mnist
from notes_ocr.normalize import normalize_blob
from notes_ocr.recognizer import (
    BATCH,
    CHECKSUMS_NAME,
    MODEL_DIR,
    NOT_DIGIT,
    Recognizer,
    file_sha256,
    read_checksums,
    verify_checksum,
    write_checksums,
)
from notes_ocr.testing.synth import CONTINENTAL_ONE, GLYPHS, random_hand, script_digit
from notes_ocr.training import touching_pairs


@pytest.fixture(scope="module")
def shipped() -> Recognizer:
    return Recognizer.load()


def test_keras_and_numpy_engines_agree_on_whole_test_set(mnist: Mnist, shipped: Recognizer):
    pytest.importorskip("keras")
    keras_engine = Recognizer.load(engine="keras")
    expected = keras_engine.predict_proba(mnist.x_test)
    got = shipped.predict_proba(mnist.x_test)
    assert got.shape == expected.shape == (len(mnist.x_test), NOT_DIGIT + 1)
    assert got.dtype == np.float32
    assert np.abs(got - expected).max() <= 1e-5


def test_shipped_model_accuracy(mnist: Mnist, shipped: Recognizer):
    # Strict: a digit the model takes for NOT_DIGIT counts as wrong.
    likeliest = shipped.predict_proba(mnist.x_test).argmax(axis=1)
    accuracy = float((likeliest == mnist.y_test).mean())
    assert accuracy >= 0.99, f"shipped model accuracy {accuracy:.4f}"
    labels, confidences = shipped.classify(mnist.x_test)
    assert labels.max() < NOT_DIGIT
    assert confidences.dtype == np.float32
    # Sure where it is right, and much less sure where it is wrong.
    right = labels == mnist.y_test
    assert np.median(confidences) > 0.999
    assert confidences[right].mean() > confidences[~right].mean() + 0.1


def test_classify_reads_digits_and_keeps_their_own_probability(shipped: Recognizer):
    # The likeliest digit, with its own probability: not renormalized over the digits (0.25
    # here), so a blob taken for NOT_DIGIT (0.6) keeps a low confidence.
    row = np.array([[0.1, 0.05, 0.05, 0, 0, 0, 0, 0, 0.08, 0.02, 0.6]], np.float32)
    labels, confidences, digit = shipped.interpret(row)
    assert labels.tolist() == [0] and labels.dtype == np.int64
    assert confidences.tolist() == [pytest.approx(0.1)] and confidences.dtype == np.float32
    assert digit.tolist() == [pytest.approx(0.4)] and digit.dtype == np.float32


def test_classify_and_read_agree_with_the_probabilities(mnist: Mnist, shipped: Recognizer):
    images = touching_pairs(mnist.x_test, mnist.y_test, 200, np.random.default_rng(3))
    labels, confidences = shipped.classify(images)
    assert np.array_equal(labels, shipped.predict_proba(images)[:, :NOT_DIGIT].argmax(axis=1))
    read = shipped.read(images)
    assert np.array_equal(read[0], labels) and np.array_equal(read[1], confidences)
    assert np.array_equal(read[2], shipped.digit_probability(images))
    assert np.all(confidences <= read[2] + 1e-6)


def test_touching_pairs_are_rejected_and_digits_are_not(mnist: Mnist, shipped: Recognizer):
    # Made from test digits with a seed of their own: nothing the model was trained on.
    pairs = touching_pairs(mnist.x_test, mnist.y_test, 2000, np.random.default_rng(11))
    rejected_pairs = float((shipped.digit_probability(pairs) < 0.5).mean())
    assert rejected_pairs > 0.7, f"only {rejected_pairs:.3f} of touching pairs rejected"
    rejected_digits = float((shipped.digit_probability(mnist.x_test) < 0.5).mean())
    assert rejected_digits < 0.01, f"{rejected_digits:.4f} of MNIST test digits rejected"


def test_continental_ones_are_read_as_one_and_sevens_as_seven(shipped: Recognizer):
    # The page benchmark's second hand: the continental 1, with a long up-stroke, which
    # MNIST's writers hardly use, and 7s in every form the hand writes them (crossed or not).
    rng = np.random.default_rng(0)

    def read(label: int, form: int) -> np.ndarray:
        images = []
        for _ in range(200):
            hand = random_hand(rng)
            forms = tuple(form if d == label else f for d, f in enumerate(hand.forms))
            drawn = script_digit(rng, replace(hand, forms=forms), label)
            images.append(normalize_blob(drawn > 127))
        return shipped.classify(np.stack(images))[0]

    ones = float((read(1, CONTINENTAL_ONE) == 1).mean())
    assert ones >= 0.9, f"only {ones:.3f} of continental 1s read as 1"
    for form in range(len(GLYPHS[7])):
        sevens = float((read(7, form) == 7).mean())
        assert sevens >= 0.97, f"only {sevens:.3f} of 7s of form {form} read as 7"


def test_ten_output_model_still_loads_and_never_rejects(tmp_path, mnist: Mnist):
    model = dict(np.load(MODEL_DIR / "mlp.npz", allow_pickle=False))
    last = len(model["activations"]) - 1
    model[f"kernel_{last}"] = model[f"kernel_{last}"][:, :NOT_DIGIT]
    model[f"bias_{last}"] = model[f"bias_{last}"][:NOT_DIGIT]
    np.savez(tmp_path / "mlp.npz", **model)
    ten = Recognizer.load(tmp_path)
    assert ten.n_outputs == 10 and not ten.rejects
    assert ten.predict_proba(mnist.x_test[:50]).shape == (50, 10)
    np.testing.assert_array_equal(ten.digit_probability(mnist.x_test[:50]), np.ones(50))
    labels, _ = ten.classify(mnist.x_test[:500])
    assert (labels == mnist.y_test[:500]).mean() > 0.95  # the digit outputs alone still read


def float64_forward(images: np.ndarray) -> np.ndarray:
    """The shipped MLP's probabilities by plain float64 arithmetic, NumPy's exp included:
    what the exact pass approximates."""
    with np.load(MODEL_DIR / "mlp.npz", allow_pickle=False) as npz:
        x = images.reshape(len(images), -1) / 255.0
        for i, activation in enumerate(npz["activations"]):
            x = x @ npz[f"kernel_{i}"].astype(np.float64) + npz[f"bias_{i}"]
            if activation == "relu":
                x = np.maximum(x, 0)
        x = np.exp(x - x.max(axis=1, keepdims=True))
        return x / x.sum(axis=1, keepdims=True)


def test_exact_pass_is_the_model_to_a_few_millionths(mnist: Mnist, shipped: Recognizer):
    got = shipped.predict_proba(mnist.x_test)
    expected = float64_forward(mnist.x_test)
    assert np.abs(got - expected).max() < 1e-5
    assert np.array_equal(got.argmax(axis=1), expected.argmax(axis=1))
    # Sure digits stay sure: rounding never pushes a probability past 1.
    assert got.max() <= 1 and np.median(got.max(axis=1)) > 0.999


def test_an_images_probabilities_depend_on_it_alone(mnist: Mnist, shipped: Recognizer):
    # Whatever it is classified with, wherever it stands in the batch, over a batch
    # boundary, however many BLAS threads: the same bits.
    images = mnist.x_test[:BATCH + 300]
    alone = np.concatenate([shipped.predict_proba(images[i : i + 1]) for i in range(0, 40)])
    whole = shipped.predict_proba(images)
    assert np.array_equal(whole[:40], alone)
    shuffled = np.random.default_rng(0).permutation(len(images))
    assert np.array_equal(shipped.predict_proba(images[shuffled]), whole[shuffled])
    behind = shipped.predict_proba(np.concatenate([mnist.x_test[-37:], images]))[37:]
    assert np.array_equal(behind, whole)
    for threads in (1, 2):
        with threadpool_limits(limits=threads, user_api="blas"):
            assert np.array_equal(shipped.predict_proba(images), whole)


# What the exact pass is checked on in processes of their own, by the CPU features it may
# not use: OpenBLAS' kernels for older x86-64 CPUs (those this one can run), and none of
# NumPy's vector paths beyond its baseline.
OPENBLAS_CORES = {"Prescott": set(), "Nehalem": {"sse4_2", "popcnt"},
                  "Sandybridge": {"avx"}, "Haswell": {"avx2", "fma"}}
DIGEST = ("import hashlib, numpy as np; from notes_ocr.mnist import load_mnist; "
          "from notes_ocr.recognizer import Recognizer; "
          "x = load_mnist().x_test[:1000]; "
          "print(hashlib.sha256(Recognizer.load().predict_proba(x).tobytes()).hexdigest())")


def cpu_flags() -> set[str]:
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    return next((set(line.split(":", 1)[1].split()) for line in info.splitlines()
                 if line.startswith("flags")), set())


def test_probabilities_are_the_same_with_other_cpu_kernels(mnist: Mnist, shipped: Recognizer):
    import hashlib

    expected = hashlib.sha256(shipped.predict_proba(mnist.x_test[:1000]).tobytes()).hexdigest()
    flags = cpu_flags()
    cores = [core for core, needs in OPENBLAS_CORES.items() if needs <= flags]
    features = getattr(np._core._multiarray_umath, "__cpu_features__", {})
    dispatched = getattr(np._core._multiarray_umath, "__cpu_dispatch__", [])
    extras = " ".join(name for name in dispatched if features.get(name))
    settings = [{"OPENBLAS_CORETYPE": core} for core in cores]
    settings += [{"NPY_DISABLE_CPU_FEATURES": extras, "OPENBLAS_NUM_THREADS": "1"}]
    for setting in settings:
        done = subprocess.run([sys.executable, "-c", DIGEST], capture_output=True, text=True,
                              env={**os.environ, **setting}, timeout=300)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == expected, setting


def test_classify_no_images(shipped: Recognizer):
    labels, confidences = shipped.classify(np.zeros((0, 28, 28), np.uint8))
    assert labels.shape == (0,) and labels.dtype.kind == "i"
    assert confidences.shape == (0,) and confidences.dtype == np.float32
    assert shipped.predict_proba(np.zeros((0, 28, 28), np.uint8)).shape == (0, NOT_DIGIT + 1)
    assert shipped.digit_probability(np.zeros((0, 28, 28), np.uint8)).shape == (0,)


@pytest.mark.parametrize(
    "images",
    [
        np.zeros((28, 28), np.uint8),
        np.zeros((2, 28, 27), np.uint8),
        np.zeros((2, 784), np.uint8),
        np.zeros((2, 28, 28), np.float32),
    ],
    ids=["single-image", "wrong-size", "flat", "float"],
)
def test_wrong_input_is_a_value_error(shipped: Recognizer, images: np.ndarray):
    with pytest.raises(ValueError, match=r"\(N, 28, 28\)|uint8"):
        shipped.classify(images)


def test_load_from_directory_or_either_file():
    by_dir = Recognizer.load(MODEL_DIR)
    by_keras_name = Recognizer.load(MODEL_DIR / "mlp.keras")  # finds mlp.npz beside it
    assert by_dir.path == by_keras_name.path == MODEL_DIR / "mlp.npz"


def assert_one_line_naming(error: pytest.ExceptionInfo, name: str) -> None:
    message = str(error.value)
    assert name in message
    assert "\n" not in message


def test_missing_file_is_a_model_error(tmp_path):
    with pytest.raises(ModelError) as error:
        Recognizer.load(tmp_path / "nowhere.npz")
    assert_one_line_naming(error, "nowhere.npz")
    with pytest.raises(ModelError) as error:
        Recognizer.load(tmp_path)  # a directory without a model
    assert_one_line_naming(error, "mlp.npz")


def test_truncated_npz_is_a_model_error(tmp_path):
    data = (MODEL_DIR / "mlp.npz").read_bytes()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError) as error:
        Recognizer.load(truncated)
    assert_one_line_naming(error, "truncated.npz")


def test_truncated_keras_file_is_a_model_error(tmp_path):
    pytest.importorskip("keras")
    data = (MODEL_DIR / "mlp.keras").read_bytes()
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError) as error:
        Recognizer.load(truncated, engine="keras")
    assert_one_line_naming(error, "truncated.keras")


def test_foreign_npz_is_a_model_error(tmp_path):
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, weights=np.ones((784, 10), np.float32))
    with pytest.raises(ModelError) as error:
        Recognizer.load(foreign)
    assert_one_line_naming(error, "foreign.npz")
    assert "not a notes-ocr model" in str(error.value)


def test_npz_with_wrong_shapes_is_a_model_error(tmp_path):
    model = dict(np.load(MODEL_DIR / "mlp.npz", allow_pickle=False))
    model["kernel_0"] = model["kernel_0"][:100]
    broken = tmp_path / "broken.npz"
    np.savez(broken, **model)
    with pytest.raises(ModelError) as error:
        Recognizer.load(broken)
    assert_one_line_naming(error, "broken.npz")


def test_npz_with_weights_that_are_not_numbers_is_a_model_error(tmp_path):
    model = dict(np.load(MODEL_DIR / "mlp.npz", allow_pickle=False))
    model["kernel_1"] = model["kernel_1"].copy()
    model["kernel_1"][5, 7] = np.nan
    np.savez(tmp_path / "nan.npz", **model)
    with pytest.raises(ModelError, match="kernel_1 holds values that are not finite") as error:
        Recognizer.load(tmp_path / "nan.npz")
    assert_one_line_naming(error, "nan.npz")


def test_npz_with_other_output_count_is_a_model_error(tmp_path):
    model = dict(np.load(MODEL_DIR / "mlp.npz", allow_pickle=False))
    last = len(model["activations"]) - 1
    model[f"kernel_{last}"] = np.pad(model[f"kernel_{last}"], ((0, 0), (0, 1)))
    model[f"bias_{last}"] = np.pad(model[f"bias_{last}"], (0, 1))
    twelve = tmp_path / "twelve.npz"
    np.savez(twelve, **model)
    with pytest.raises(ModelError, match="10 or 11") as error:
        Recognizer.load(twelve)
    assert_one_line_naming(error, "twelve.npz")


def test_pickled_npz_is_refused(tmp_path):
    model = dict(np.load(MODEL_DIR / "mlp.npz", allow_pickle=False))
    model["activations"] = np.array(["relu", "relu", "softmax"], dtype=object)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, **model)
    with pytest.raises(ModelError) as error:
        Recognizer.load(pickled)
    assert_one_line_naming(error, "pickled.npz")


def test_unknown_engine_is_a_value_error():
    with pytest.raises(ValueError, match="engine"):
        Recognizer.load(engine="torch")


def test_numpy_engine_does_not_import_tensorflow(tmp_path):
    # Scanning must stay fast: TensorFlow alone takes seconds to import.
    shutil.copy(MODEL_DIR / "mlp.npz", tmp_path / "mlp.npz")
    code = (
        "import sys, numpy as np\n"
        "from notes_ocr.recognizer import Recognizer\n"
        f"r = Recognizer.load({str(tmp_path)!r})\n"
        "r.classify(np.zeros((3, 28, 28), np.uint8))\n"
        "heavy = [m for m in ('tensorflow', 'keras') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    root = str(Path(__file__).resolve().parent.parent)
    path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


# --- checksums, and model files that are not ours ------------------------------------------


def test_shipped_sums_match_the_shipped_files():
    # Fails when the model files are replaced without their sums: regenerate them with
    # recognizer.write_checksums("notes_ocr/models").
    sums = read_checksums(MODEL_DIR / CHECKSUMS_NAME)
    assert set(sums) == {"mlp.npz", "mlp.keras"}
    for name, digest in sums.items():
        assert file_sha256(MODEL_DIR / name) == digest, name


@pytest.fixture()
def shipped_copy(tmp_path) -> Path:
    """The shipped model and its sums, copied to a folder of their own."""
    folder = tmp_path / "models"
    folder.mkdir()
    for name in ["mlp.npz", CHECKSUMS_NAME]:
        shutil.copy(MODEL_DIR / name, folder / name)
    return folder


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # still a readable .npz: one weight changed
    path.write_bytes(bytes(data))


def test_a_shipped_model_changed_by_one_bit_is_refused(shipped_copy):
    assert Recognizer.load(shipped_copy).path == shipped_copy / "mlp.npz"
    flip_a_byte(shipped_copy / "mlp.npz")
    with pytest.raises(ModelError, match="damaged or replaced") as error:
        Recognizer.load(shipped_copy)
    assert_one_line_naming(error, "mlp.npz")


def test_the_shipped_model_needs_its_sums(shipped_copy):
    # Recognizer.load() checks the shipped model with required=True: it has sums to match.
    model = shipped_copy / "mlp.npz"
    verify_checksum(model, required=True)
    (shipped_copy / CHECKSUMS_NAME).write_text("")
    with pytest.raises(ModelError, match="not listed in"):
        verify_checksum(model, required=True)
    (shipped_copy / CHECKSUMS_NAME).unlink()
    with pytest.raises(ModelError, match=f"no {CHECKSUMS_NAME} beside it") as error:
        verify_checksum(model, required=True)
    assert_one_line_naming(error, "mlp.npz")
    verify_checksum(model, required=False)  # another model may come without sums
    (shipped_copy / CHECKSUMS_NAME).write_text("not a checksum line\n")
    with pytest.raises(ModelError, match="line 1 is not a SHA-256 checksum line"):
        verify_checksum(model, required=True)


def test_an_own_model_is_checked_when_it_carries_sums(tmp_path):
    shutil.copy(MODEL_DIR / "mlp.npz", tmp_path / "mlp.npz")
    Recognizer.load(tmp_path)  # no sums beside it: nothing to check
    sums = write_checksums(tmp_path)
    assert sums.read_text().split() == [file_sha256(tmp_path / "mlp.npz"), "mlp.npz"]
    Recognizer.load(tmp_path / "mlp.npz")
    flip_a_byte(tmp_path / "mlp.npz")
    with pytest.raises(ModelError, match="damaged or replaced"):
        Recognizer.load(tmp_path)


def test_random_bytes_are_not_a_model(tmp_path):
    noise = tmp_path / "noise.npz"
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, np.uint8).tobytes())
    with pytest.raises(ModelError) as error:
        Recognizer.load(noise)
    assert_one_line_naming(error, "noise.npz")


class Planted:
    """Unpickling this creates a file: proof that a pickle ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_pickle_in_a_model_file_is_never_run(tmp_path):
    marker = tmp_path / "pickle-ran"
    model = dict(np.load(MODEL_DIR / "mlp.npz", allow_pickle=False))
    model["activations"] = np.array([Planted(marker)] * 3, dtype=object)
    planted = tmp_path / "planted.npz"
    np.savez(planted, **model)
    with pytest.raises(ModelError) as error:
        Recognizer.load(planted)
    assert_one_line_naming(error, "planted.npz")
    assert not marker.exists()


@pytest.mark.parametrize("kind", ["missing", "truncated", "random bytes", "foreign", "pickled"])
def test_a_bad_model_on_the_command_line_is_one_line_and_exit_1(tmp_path, capsys, kind):
    from notes_ocr.cli import main

    model = tmp_path / "model.npz"
    data = (MODEL_DIR / "mlp.npz").read_bytes()
    if kind == "truncated":
        model.write_bytes(data[: len(data) // 3])
    elif kind == "random bytes":
        model.write_bytes(os.urandom(3000))
    elif kind == "foreign":
        np.savez(model, weights=np.ones((784, 10), np.float32))
    elif kind == "pickled":
        np.savez(model, format=np.array(["x"], dtype=object))
    page = Path(__file__).resolve().parent.parent / "examples" / "plain_black.png"
    assert main(["scan", "--model", str(model), str(page)]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    assert captured.err.count("\n") == 1 and str(model) in captured.err

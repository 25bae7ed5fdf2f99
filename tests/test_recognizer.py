"""The shipped recogniser: both engines agree, it is accurate, and bad files fail clearly."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from notes_ocr.errors import ModelError
from notes_ocr.mnist import Mnist, load_mnist
from notes_ocr.recognizer import MODEL_DIR, Recognizer


@pytest.fixture(scope="module")
def mnist() -> Mnist:
    return load_mnist()


@pytest.fixture(scope="module")
def shipped() -> Recognizer:
    return Recognizer.load()


def test_keras_and_numpy_engines_agree_on_whole_test_set(mnist: Mnist, shipped: Recognizer):
    pytest.importorskip("keras")
    keras_engine = Recognizer.load(engine="keras")
    expected = keras_engine.predict_proba(mnist.x_test)
    got = shipped.predict_proba(mnist.x_test)
    assert got.shape == expected.shape == (len(mnist.x_test), 10)
    assert got.dtype == np.float32
    assert np.abs(got - expected).max() <= 1e-5


def test_shipped_model_accuracy(mnist: Mnist, shipped: Recognizer):
    labels, confidences = shipped.classify(mnist.x_test)
    accuracy = float((labels == mnist.y_test).mean())
    assert accuracy >= 0.99, f"shipped model accuracy {accuracy:.4f}"
    assert confidences.dtype == np.float32
    assert np.all((confidences > 0) & (confidences <= 1))


def test_probabilities_sum_to_one(mnist: Mnist, shipped: Recognizer):
    probabilities = shipped.predict_proba(mnist.x_test[:100])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_classify_no_images(shipped: Recognizer):
    labels, confidences = shipped.classify(np.zeros((0, 28, 28), np.uint8))
    assert labels.shape == (0,) and labels.dtype.kind == "i"
    assert confidences.shape == (0,) and confidences.dtype == np.float32
    assert shipped.predict_proba(np.zeros((0, 28, 28), np.uint8)).shape == (0, 10)


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

"""Training end to end on a small slice, the export format, and the augmentation."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

# Keras 3.15's own saving code trips NumPy 2's __array__(copy=...) deprecation.

from notes_ocr.errors import ModelError  # noqa: E402
from notes_ocr.mnist import Mnist, load_mnist  # noqa: E402
from notes_ocr.recognizer import Recognizer  # noqa: E402
from notes_ocr.training import (  # noqa: E402
    TrainConfig,
    augment_digits,
    build_mlp,
    evaluate,
    export_weights,
    format_confusion,
    train,
)


@pytest.fixture(scope="module")
def mnist() -> Mnist:
    return load_mnist()


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple:
    out_dir = tmp_path_factory.mktemp("model")
    lines: list[str] = []
    config = TrainConfig(hidden=(64,), epochs=2, batch_size=32, limit=2000)
    keras_path = train(config, out_dir, log=lines.append)
    return keras_path, out_dir, lines


def test_training_writes_both_files_and_logs_loss(trained):
    keras_path, out_dir, lines = trained
    assert keras_path == out_dir / "mlp.keras"
    assert keras_path.is_file() and (out_dir / "mlp.npz").is_file()
    epoch_lines = [line for line in lines if line.startswith("epoch ")]
    assert len(epoch_lines) == 2
    assert all("loss" in line and "accuracy" in line for line in epoch_lines)
    assert "test accuracy" in lines[-1]


def test_saved_model_has_no_optimizer_state(trained):
    keras_path, _, _ = trained
    model = keras.saving.load_model(keras_path)
    assert getattr(model, "optimizer", None) is None


def test_exported_weights_match_keras(trained, mnist: Mnist):
    _, out_dir, _ = trained
    with_numpy = Recognizer.load(out_dir, engine="numpy").predict_proba(mnist.x_test)
    with_keras = Recognizer.load(out_dir, engine="keras").predict_proba(mnist.x_test)
    assert np.abs(with_numpy - with_keras).max() <= 1e-5


def test_small_model_is_well_above_chance(trained, mnist: Mnist):
    _, out_dir, _ = trained
    result = evaluate(out_dir / "mlp.keras", engine="keras", mnist=mnist)
    assert result.accuracy > 0.6
    assert result.confusion.shape == (10, 10)
    assert result.confusion.sum() == len(mnist.y_test)
    np.testing.assert_array_equal(result.confusion.sum(axis=1), np.bincount(mnist.y_test))


def test_export_refuses_other_layers(tmp_path):
    pixels = keras.Input(shape=(784,))
    hidden = keras.layers.BatchNormalization()(keras.layers.Dense(8, activation="relu")(pixels))
    model = keras.Model(pixels, keras.layers.Dense(10, activation="softmax")(hidden))
    with pytest.raises(ModelError, match="BatchNormalization"):
        export_weights(model, tmp_path / "model.npz")


def test_export_skips_dropout_and_loads_without_pickle(tmp_path):
    model = build_mlp((16, 8), dropout=0.5)
    export_weights(model, tmp_path / "model.npz")
    with np.load(tmp_path / "model.npz", allow_pickle=False) as npz:
        assert list(npz["activations"]) == ["relu", "relu", "softmax"]
        assert [npz[f"kernel_{i}"].shape for i in range(3)] == [(784, 16), (16, 8), (8, 10)]
    layer_types = {type(layer).__name__ for layer in model.layers}
    assert layer_types == {"InputLayer", "Dense", "Dropout"}


def center_of_mass(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = np.mgrid[:28, :28]
    total = images.sum(axis=(1, 2), dtype=np.float64)
    return (images * rows).sum(axis=(1, 2)) / total, (images * cols).sum(axis=(1, 2)) / total


def test_augment_keeps_shape_and_centers_by_mass(mnist: Mnist):
    digits = mnist.x_train[:2000]
    augmented = augment_digits(digits, np.random.default_rng(0))
    assert augmented.shape == digits.shape and augmented.dtype == np.uint8
    assert augmented.any(axis=(1, 2)).all()
    assert (augmented != digits).any(axis=(1, 2)).mean() > 0.95
    assert augmented.max(axis=(1, 2)).min() == 255  # fit_to_mnist scales ink to full white

    # fit_to_mnist shifts by whole pixels, so the centre is off by half a pixel at most
    # (plus rounding to uint8), unless the shift pushed ink off the field and cut it.
    cut = (
        augmented[:, 0].any(axis=1)
        | augmented[:, -1].any(axis=1)
        | augmented[:, :, 0].any(axis=1)
        | augmented[:, :, -1].any(axis=1)
    )
    assert cut.mean() < 0.02
    row, col = center_of_mass(augmented[~cut])
    assert np.abs(row - 13.5).max() <= 0.52
    assert np.abs(col - 13.5).max() <= 0.52


def test_augment_is_reproducible_and_handles_empty_input(mnist: Mnist):
    digits = mnist.x_train[:300]
    first = augment_digits(digits, np.random.default_rng(7))
    again = augment_digits(digits, np.random.default_rng(7))
    other = augment_digits(digits, np.random.default_rng(8))
    np.testing.assert_array_equal(first, again)
    assert (first != other).any()
    empty = augment_digits(np.zeros((0, 28, 28), np.uint8), np.random.default_rng(0))
    assert empty.shape == (0, 28, 28)


def test_format_confusion_is_a_labelled_table():
    confusion = np.diag(np.arange(1, 11)) * 100
    confusion[3, 5] = 7
    table = format_confusion(confusion)
    lines = table.splitlines()
    assert len(lines) == 12  # header, rule, ten digits
    assert lines[0].split()[1:11] == [str(d) for d in range(10)]
    assert lines[5].split()[:1] == ["3"]
    assert lines[5].split()[6] == "7"  # row = true 3, column = predicted 5

"""Training end to end on a small slice, the export format, and the augmentation."""

from __future__ import annotations

import os

import numpy as np
import pytest

keras = pytest.importorskip("keras")

# Keras 3.15's own saving code trips NumPy 2's __array__(copy=...) deprecation.

from notes_ocr.errors import ModelError  # noqa: E402
from notes_ocr.mnist import Mnist  # noqa: E402
from notes_ocr.recognizer import NOT_DIGIT, Recognizer  # noqa: E402
from notes_ocr.training import (  # noqa: E402
    AUG_SIDE,
    NEGATIVE_KINDS,
    TrainConfig,
    add_flags,
    augment,
    augment_digits,
    build_mlp,
    evaluate,
    export_weights,
    format_confusion,
    fragments,
    make_negatives,
    rejection_rates,
    train,
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple:
    out_dir = tmp_path_factory.mktemp("model")
    lines: list[str] = []
    config = TrainConfig(hidden=(64,), epochs=2, batch_size=32, limit=2000)
    keras_path = train(config, out_dir, log=lines.append)
    return keras_path, out_dir, lines


@pytest.mark.slow
def test_training_writes_both_files_and_logs_loss(trained):
    keras_path, out_dir, lines = trained
    assert keras_path == out_dir / "mlp.keras"
    assert keras_path.is_file() and (out_dir / "mlp.npz").is_file()
    assert "400 fresh negatives an epoch" in lines[0]
    epoch_lines = [line for line in lines if line.startswith("epoch ")]
    assert len(epoch_lines) == 2
    assert all("loss" in line and "accuracy" in line for line in epoch_lines)
    assert any(line.startswith("held-out negatives") for line in lines)
    assert "test accuracy" in lines[-1] and "rejected" in lines[-1]


@pytest.mark.slow
def test_default_model_has_the_not_digit_output(trained, mnist: Mnist):
    _, out_dir, _ = trained
    for engine in ("numpy", "keras"):
        recognizer = Recognizer.load(out_dir, engine=engine)
        assert recognizer.n_outputs == NOT_DIGIT + 1 and recognizer.rejects
        assert recognizer.predict_proba(mnist.x_test[:5]).shape == (5, NOT_DIGIT + 1)


@pytest.mark.slow
def test_reject_off_trains_the_ten_digit_model(tmp_path, mnist: Mnist):
    config = TrainConfig(hidden=(16,), epochs=1, batch_size=64, limit=500, reject=False)
    lines: list[str] = []
    train(config, tmp_path, log=lines.append)
    assert "0 fresh negatives" in lines[0]
    recognizer = Recognizer.load(tmp_path)
    assert recognizer.n_outputs == 10 and not recognizer.rejects
    result = evaluate(tmp_path, engine="numpy", mnist=mnist)
    assert result.confusion.shape == (10, 10) and result.rejected == 0


@pytest.mark.slow
def test_saved_model_has_no_optimizer_state(trained):
    keras_path, _, _ = trained
    model = keras.saving.load_model(keras_path)
    assert getattr(model, "optimizer", None) is None


@pytest.mark.slow
def test_exported_weights_match_keras(trained, mnist: Mnist):
    _, out_dir, _ = trained
    with_numpy = Recognizer.load(out_dir, engine="numpy").predict_proba(mnist.x_test)
    with_keras = Recognizer.load(out_dir, engine="keras").predict_proba(mnist.x_test)
    assert np.abs(with_numpy - with_keras).max() <= 1e-5


@pytest.mark.slow
def test_small_model_is_well_above_chance(trained, mnist: Mnist):
    _, out_dir, _ = trained
    result = evaluate(out_dir / "mlp.keras", engine="keras", mnist=mnist)
    assert result.accuracy > 0.6
    assert result.confusion.shape == (10, 11)  # the last column: taken for NOT_DIGIT
    # The table counts what the model predicts, each test digit once, by its true digit.
    truth = mnist.y_test
    predicted = Recognizer.load(out_dir, engine="keras").predict_proba(mnist.x_test).argmax(1)
    for digit, guess in [(3, 5), (4, 9), (7, 7), (8, NOT_DIGIT)]:
        expected = int(((truth == digit) & (predicted == guess)).sum())
        assert result.confusion[digit, guess] == expected
    assert result.rejected == int((predicted == NOT_DIGIT).sum())
    # Strict accuracy: rejected digits are wrong.
    assert result.accuracy == pytest.approx(float((predicted == truth).mean()))


def test_rejection_rates_cover_every_kind_and_the_digits(mnist: Mnist):
    # The shipped model rejects most blobs of every kind that is not one digit (0.82-0.98
    # of them when this was written) and hardly any digit (0.0006).
    rates = rejection_rates(None, mnist=mnist, per_kind=200)
    assert list(rates) == [*NEGATIVE_KINDS, "digits"]
    assert min(rates[kind] for kind in NEGATIVE_KINDS) > 0.6, rates
    assert rates["digits"] < 0.005, rates


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
        assert [npz[f"kernel_{i}"].shape for i in range(3)] == [(784, 16), (16, 8), (8, 11)]
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


def test_specks_fall_beside_some_digits_and_leave_the_rest(mnist: Mnist):
    digits = mnist.x_train[:2000]
    # The digits at the canvas' resolution, in its middle, as the augmentation draws them.
    scale = augment.AUG_UPSAMPLE
    side = 28 * scale
    offset = (AUG_SIDE - side) // 2
    canvas = np.zeros((len(digits), AUG_SIDE, AUG_SIDE), np.uint8)
    canvas[:, offset : offset + side, offset : offset + side] = digits.repeat(scale, 1).repeat(
        scale, 2)
    before = canvas.copy()
    eligible = np.arange(len(digits)) % 2 == 0
    augment._add_specks(canvas, np.random.default_rng(3), eligible)
    changed = canvas != before
    specked = changed.any(axis=(1, 2))
    assert not specked[~eligible].any()
    assert abs(specked[eligible].mean() - augment.P_SPECKS) < 0.03
    # Every speck lies within reach of its digit's ink box: its centre within SPECK_REACH,
    # its ink at most a dash further.
    left, right, top, bottom = augment.ink_boxes(before[specked] >= augment.FAINT)
    speck_left, speck_right, speck_top, speck_bottom = augment.ink_boxes(changed[specked])
    far = augment.SPECK_REACH + augment.DASH_LENGTH[1] + augment.DASH_THICKNESS[1]
    assert (speck_left >= left - far).all() and (speck_right <= right + far).all()
    assert (speck_top >= top - far).all() and (speck_bottom <= bottom + far).all()
    # Specks are small beside the digit.
    ink = (before[specked] >= augment.FAINT).sum(axis=(1, 2))
    assert (changed[specked].sum(axis=(1, 2)) < 0.5 * ink).mean() > 0.95


def test_flags_are_drawn_up_and_left_from_the_top_of_ones_that_do_not_lean_back(mnist: Mnist):
    ones = mnist.x_train[mnist.y_train == 1][:500]
    flagged = add_flags(ones, np.random.default_rng(6))
    np.testing.assert_array_equal(flagged, add_flags(ones, np.random.default_rng(6)))
    assert (flagged >= ones).all()  # the 1 itself is kept
    ink, new_ink = ones >= 128, (flagged >= 128) & (ones < 128)
    rows = [np.flatnonzero(image.any(axis=1)) for image in ink]
    tops = np.array([r[0] for r in rows])
    top_x = np.array([np.flatnonzero(im[r[0]]).mean() for im, r in zip(ink, rows, strict=True)])
    foot_x = np.array([np.flatnonzero(im[r[-1]]).mean() for im, r in zip(ink, rows, strict=True)])
    heights = np.array([r[-1] - r[0] + 1 for r in rows])
    leaning_back = top_x < foot_x - 0.1 * heights
    changed = new_ink.any(axis=(1, 2))
    assert not changed[leaning_back].any()
    assert changed[~leaning_back].mean() > 0.9
    # The flag's ink lies left of the top of the stroke, in the upper half of the digit.
    for image, top, x, height in zip(new_ink[changed], tops[changed], top_x[changed],
                                     heights[changed], strict=True):
        ys, xs = np.nonzero(image)
        assert xs.mean() < x and ys.mean() < top + height / 2
    assert add_flags(np.zeros((2, 28, 28), np.uint8), np.random.default_rng(0)).max() == 0


def test_negatives_are_scanner_framed_and_reproducible(mnist: Mnist):
    digits, labels = mnist.x_train[:3000], mnist.y_train[:3000]
    negatives = make_negatives(digits, labels, 600, np.random.default_rng(5))
    again = make_negatives(digits, labels, 600, np.random.default_rng(5))
    assert negatives.shape == (600, 28, 28) and negatives.dtype == np.uint8
    np.testing.assert_array_equal(negatives, again)
    # Fitted by fit_to_mnist: ink scaled to full white, and at most 20 pixels on a side.
    assert negatives.max(axis=(1, 2)).min() == 255
    inked = negatives >= 30
    assert inked.any(axis=1).sum(axis=1).max() <= 21 and inked.any(axis=2).sum(axis=1).max() <= 21
    assert make_negatives(digits, labels, 0, np.random.default_rng(5)).shape == (0, 28, 28)


def test_each_kind_makes_what_it_is_asked_for(mnist: Mnist):
    for kind, make in NEGATIVE_KINDS.items():
        blobs = make(mnist.x_train[:1000], mnist.y_train[:1000], 50, np.random.default_rng(2))
        assert blobs.shape == (50, 28, 28), kind
        assert blobs.any(axis=(1, 2)).all(), kind


def test_touching_pairs_are_wide_and_fragments_never_come_from_ones(mnist: Mnist):
    pairs = NEGATIVE_KINDS["pairs"](mnist.x_test, mnist.y_test, 300, np.random.default_rng(4))
    inked = pairs >= 30
    width, height = inked.any(axis=1).sum(axis=1), inked.any(axis=2).sum(axis=1)
    assert np.median(width / height) > 1.2  # two digits side by side, fitted as one blob
    ones = mnist.x_test[mnist.y_test == 1]
    with pytest.raises(ValueError, match="other than 1"):
        fragments(ones, np.ones(len(ones), np.uint8), 10, np.random.default_rng(0))


def test_format_confusion_is_a_labelled_table():
    confusion = np.diag(np.arange(1, 11)) * 100
    confusion[3, 5] = 7
    table = format_confusion(confusion)
    lines = table.splitlines()
    assert len(lines) == 12  # header, rule, ten digits
    assert lines[0].split()[1:11] == [str(d) for d in range(10)]
    assert lines[5].split()[:1] == ["3"]
    assert lines[5].split()[6] == "7"  # row = true 3, column = predicted 5


def test_format_confusion_shows_the_rejected_column():
    confusion = np.hstack([np.diag(np.arange(1, 11)) * 100, np.arange(10)[:, None]])
    lines = format_confusion(confusion).splitlines()
    assert lines[0].split()[1:12] == [*(str(d) for d in range(10)), "not"]
    assert lines[5].split()[11] == "3"  # three true 3s taken for NOT_DIGIT
    assert float(lines[5].split()[12]) == pytest.approx(400 / 403, abs=1e-4)


def test_importing_the_training_package_has_no_side_effects():
    import subprocess
    import sys

    code = ("import os, sys; import notes_ocr.training; "
            "print('TF_CPP_MIN_LOG_LEVEL' in os.environ, 'keras' in sys.modules)")
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True).stdout
    assert out.split() == ["False", "False"]

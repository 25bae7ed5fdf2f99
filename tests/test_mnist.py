"""Loading MNIST: a given path, the bundled file, then Keras; one clear line when none works."""

import sys

import numpy as np
import pytest

from notes_ocr import mnist as mnist_module
from notes_ocr.errors import DataError
from notes_ocr.mnist import load_mnist

BUNDLED = mnist_module.candidate_paths()[1]


def test_bundled_file_is_the_original_split():
    data = load_mnist(BUNDLED)
    assert data.x_train.shape == (60000, 28, 28) and data.x_test.shape == (10000, 28, 28)
    assert data.x_train.dtype == np.uint8
    assert np.bincount(data.y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028,
                                                 974, 1009]


def test_bad_files_give_one_clear_line(tmp_path):
    with pytest.raises(DataError, match="no such MNIST file"):
        load_mnist(tmp_path / "missing.npz")
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, images=np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(DataError, match="missing x_train"):
        load_mnist(foreign)
    broken = tmp_path / "broken.npz"
    broken.write_bytes(BUNDLED.read_bytes()[:5000])
    with pytest.raises(DataError, match="cannot read MNIST") as info:
        load_mnist(broken)
    assert "\n" not in str(info.value)


def test_nothing_found_and_no_keras_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist_module, "candidate_paths", lambda: [tmp_path / "none.npz"])
    monkeypatch.setitem(sys.modules, "keras.datasets", None)  # as if Keras were absent
    with pytest.raises(DataError, match="MNIST not found") as info:
        load_mnist()
    assert "\n" not in str(info.value) and "none.npz" in str(info.value)

"""Confidences mean what they say: calibrated on MNIST test."""

import itertools

import numpy as np

from notes_ocr.recognizer import Recognizer


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins=15) -> float:
    """Mean gap between confidence and accuracy over equal-width confidence bins."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    error = 0.0
    for low, high in itertools.pairwise(edges):
        chosen = (confidence > low) & (confidence <= high)
        if chosen.any():
            error += chosen.mean() * abs(correct[chosen].mean() - confidence[chosen].mean())
    return float(error)


def test_shipped_model_is_calibrated_on_mnist_test(mnist):
    probabilities = Recognizer.load().predict_proba(mnist.x_test)
    assert expected_calibration_error(probabilities, mnist.y_test) <= 0.015


"""Training, exporting and evaluating the digit recogniser (an MLP on MNIST), one concept a
module:

    model       the Keras MLP
    augment     MNIST digits distorted as handwriting varies, framed as the scanner frames
    negatives   blobs that are not one whole digit, for the NOT_DIGIT class
    fit         the training run: TrainConfig, train
    export      Keras weights -> the .npz the NumPy forward pass reads
    evaluation  MNIST test accuracy, confusion matrix, held-out negatives

The only package that imports Keras (and only when a function needs it: importing it has
no side effects). ``notes-ocr train`` and ``notes-ocr eval`` use it; scanning runs the
exported weights with NumPy (see recognizer.py), so that it never pays for TensorFlow.
"""

from notes_ocr.training.augment import AUG_SIDE, add_flags, augment_digits
from notes_ocr.training.evaluation import EvalResult, evaluate, format_confusion, rejection_rates
from notes_ocr.training.export import export_weights
from notes_ocr.training.fit import TrainConfig, train
from notes_ocr.training.model import build_mlp
from notes_ocr.training.negatives import (
    NEGATIVE_KINDS,
    fragments,
    junk_marks,
    make_negatives,
    touching_pairs,
)

__all__ = [
    "AUG_SIDE",
    "NEGATIVE_KINDS",
    "EvalResult",
    "TrainConfig",
    "add_flags",
    "augment_digits",
    "build_mlp",
    "evaluate",
    "export_weights",
    "format_confusion",
    "fragments",
    "junk_marks",
    "make_negatives",
    "rejection_rates",
    "touching_pairs",
    "train",
]

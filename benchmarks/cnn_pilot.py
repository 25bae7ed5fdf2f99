"""A pilot for the accuracy issue: the shipped training recipe with the MLP swapped for a
small CNN, to see what the recogniser's architecture is worth on the page benchmark.

    python -m benchmarks.cnn_pilot [--epochs 40] [--seed 0] [--out DIR]
    python -m benchmarks.errors --seed 7 --pages 40 --engine keras --model DIR/mlp.keras

Not part of the product: notes-ocr's recogniser is an MLP, run in NumPy. Everything of
`training.train` is kept (augmentation, negatives, Adam with the cosine schedule, batch
256, bfloat16 where the CPU has it) but the network: two blocks of two 3x3 convolutions
(16, then 32 filters) each followed by 2x2 max pooling, a 256-unit ReLU layer with
dropout 0.3, and the 11-way softmax. Only the .keras file is written (the NumPy engine
reads Dense layers alone; training's last line names an .npz all the same), so the pilot
is scored with the Keras engine.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from unittest import mock

from notes_ocr import training
from notes_ocr.recognizer import N_PIXELS

FILTERS = (16, 32)
DENSE = 256
DROPOUT = 0.3


def build_cnn(hidden: tuple[int, ...], dropout: float, n_classes: int):
    """The pilot's network, from the same 784-pixel input as the MLP (``hidden`` and
    ``dropout``, the MLP's, are not used)."""
    import keras

    inputs = keras.Input((N_PIXELS,))
    x = keras.layers.Reshape((28, 28, 1))(inputs)
    for filters in FILTERS:
        x = keras.layers.Conv2D(filters, 3, activation="relu")(x)
        x = keras.layers.Conv2D(filters, 3, activation="relu")(x)
        x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(DENSE, activation="relu")(x)
    x = keras.layers.Dropout(DROPOUT)(x)
    outputs = keras.layers.Dense(n_classes, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("cnn-pilot"))
    args = parser.parse_args(argv)
    evaluate, rejection_rates = training.evaluate, training.rejection_rates
    with (
        mock.patch.object(training, "build_mlp", build_cnn),
        mock.patch.object(training, "export_weights", lambda model, path: None),
        mock.patch.object(training, "write_checksums", lambda folder: None),
        # train() scores the .npz it exported with the NumPy engine: score the .keras file.
        mock.patch.object(training, "evaluate", lambda path, mnist_path, engine, **kw:
                          evaluate(path, mnist_path, engine="keras", **kw)),
        mock.patch.object(training, "rejection_rates", lambda path, engine, **kw:
                          rejection_rates(path, engine="keras", **kw)),
    ):
        training.train(training.TrainConfig(epochs=args.epochs, seed=args.seed), args.out)


if __name__ == "__main__":
    main()

"""The recogniser's network: a Keras MLP, 784 inputs, ReLU hidden layers, softmax over
the ten digits and NOT_DIGIT."""

from __future__ import annotations

from typing import TYPE_CHECKING

from notes_ocr.recognizer import (
    N_DIGITS,
    N_PIXELS,
    import_keras,
)

if TYPE_CHECKING:
    import keras

def build_mlp(
    hidden: tuple[int, ...], dropout: float, n_classes: int = N_DIGITS + 1
) -> keras.Model:
    """The recogniser's architecture, defined here only.

    784 pixels in [0, 1] -> (Dense relu -> Dropout) per ``hidden`` entry -> Dense softmax
    over ``n_classes``: the 10 digits, and NOT_DIGIT when it is 11.
    Only Dense and Dropout layers: `export_weights` and the NumPy engine rely on that.
    """
    keras = import_keras()

    pixels = keras.Input(shape=(N_PIXELS,), dtype="float32", name="pixels")
    x = pixels
    for index, units in enumerate(hidden):
        x = keras.layers.Dense(units, activation="relu", name=f"dense_{index}")(x)
        x = keras.layers.Dropout(dropout, name=f"dropout_{index}")(x)
    probabilities = keras.layers.Dense(n_classes, activation="softmax", name="digits")(x)
    return keras.Model(pixels, probabilities, name="notes_ocr_mlp")

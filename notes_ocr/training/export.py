"""A trained Keras MLP -> the .npz the NumPy forward pass reads (recognizer.py)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from notes_ocr.errors import ModelError
from notes_ocr.recognizer import (
    ACTIVATIONS,
    MODEL_FORMAT,
    import_keras,
)

if TYPE_CHECKING:
    import keras

def export_weights(model: keras.Model, path: str | Path) -> None:
    """Write a model's Dense layers to an .npz that `Recognizer` runs with NumPy.

    The file holds ``format``, ``activations`` (one name per Dense layer) and ``kernel_<i>``
    / ``bias_<i>`` float32 arrays: plain arrays only, so it loads with allow_pickle=False.
    Dropout is the identity at inference and is skipped; any other layer is a ModelError,
    since the NumPy engine would silently compute something else.
    """
    keras = import_keras()

    arrays: dict[str, np.ndarray] = {}
    activations: list[str] = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer | keras.layers.Dropout):
            continue
        if not isinstance(layer, keras.layers.Dense):
            raise ModelError(
                f"cannot export layer {layer.name!r} ({type(layer).__name__}): "
                "only Dense and Dropout layers are supported"
            )
        activation = layer.get_config()["activation"]
        if activation not in ACTIVATIONS:
            raise ModelError(f"cannot export layer {layer.name!r}: activation {activation!r}")
        kernel = np.asarray(layer.kernel.numpy(), dtype=np.float32)
        if layer.use_bias:
            bias = np.asarray(layer.bias.numpy(), dtype=np.float32)
        else:
            bias = np.zeros(kernel.shape[1], np.float32)
        index = len(activations)
        arrays[f"kernel_{index}"] = kernel
        arrays[f"bias_{index}"] = bias
        activations.append(activation)
    if not activations:
        raise ModelError(f"cannot export model {model.name!r}: it has no Dense layer")
    with open(path, "wb") as file:  # np.savez would append ".npz" to other names
        np.savez(
            file,
            format=np.array(MODEL_FORMAT),
            activations=np.array(activations),
            **arrays,
        )

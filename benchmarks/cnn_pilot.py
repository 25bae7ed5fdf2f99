"""A pilot for the accuracy issue: the shipped training recipe with the MLP swapped for a
small CNN, to see what the recogniser's architecture is worth on the page benchmark.

    python -m benchmarks.cnn_pilot [--epochs 40] [--seed 0] [--out benchmarks/.cache/cnn-pilot]
    python -m benchmarks.errors --seed 7 --pages 40 --engine keras --model DIR/mlp.keras
    python -m benchmarks.cnn_pilot --time DIR/mlp.keras     # its forward pass, timed

Not part of the product: notes-ocr's recogniser is an MLP, run in NumPy. Everything of
`training.train` is kept (augmentation, negatives, Adam with the cosine schedule, batch
256, bfloat16 where the CPU has it) but the network: two blocks of two 3x3 convolutions
(16, then 32 filters) each followed by 2x2 max pooling, a 256-unit ReLU layer with
dropout 0.3, and the 11-way softmax. Only the .keras file is written (the NumPy engine
reads Dense layers alone; training's last line names an .npz all the same), so the pilot
is scored with the Keras engine.

``--time`` asks what such a network would cost a scan without TensorFlow: it is written
as an ONNX graph (the ``onnx`` package, in the ``bench`` extra) and run by OpenCV's
``dnn`` module, checked against Keras on MNIST test digits and timed beside the shipped
MLP's NumPy forward pass.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from unittest import mock

import cv2
import numpy as np

from benchmarks.pages import HERE
from notes_ocr import training
from notes_ocr.mnist import load_mnist
from notes_ocr.recognizer import N_PIXELS, Recognizer, to_input

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


def to_onnx(model) -> bytes:
    """The pilot's Keras network (``build_cnn``) as a serialized ONNX model."""
    import keras
    from onnx import TensorProto, helper, numpy_helper

    weights, nodes = [], []

    def constant(name: str, value: np.ndarray) -> str:
        weights.append(numpy_helper.from_array(value, name))
        return name

    nodes.append(helper.make_node(
        "Reshape", ["pixels", constant("shape", np.array([-1, 1, 28, 28], np.int64))], ["x0"]))
    x = "x0"
    convolutions = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    for i, layer in enumerate(convolutions):
        kernel, bias = layer.get_weights()  # Keras: (3, 3, in, out); ONNX: (out, in, 3, 3)
        nodes.append(helper.make_node("Conv", [x, constant(f"k{i}", kernel.transpose(3, 2, 0, 1)),
                                               constant(f"b{i}", bias)], [f"c{i}"]))
        nodes.append(helper.make_node("Relu", [f"c{i}"], [f"r{i}"]))
        x = f"r{i}"
        if i % 2:  # each block of two ends in a 2x2 max pool
            nodes.append(helper.make_node("MaxPool", [x], [f"p{i}"], kernel_shape=[2, 2],
                                          strides=[2, 2]))
            x = f"p{i}"
    # Keras flattens channels last.
    nodes.append(helper.make_node("Transpose", [x], ["last"], perm=[0, 2, 3, 1]))
    nodes.append(helper.make_node("Flatten", ["last"], ["h0"]))
    x = "h0"
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    for i, layer in enumerate(dense):
        kernel, bias = layer.get_weights()
        nodes.append(helper.make_node("Gemm", [x, constant(f"w{i}", kernel.T),
                                               constant(f"a{i}", bias)], [f"g{i}"], transB=1))
        x = f"g{i}"
        if i + 1 < len(dense):
            nodes.append(helper.make_node("Relu", [x], [f"h{i + 1}"]))
            x = f"h{i + 1}"
    nodes.append(helper.make_node("Softmax", [x], ["probabilities"], axis=1))
    graph = helper.make_graph(
        nodes, "cnn_pilot",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, [None, N_PIXELS])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, None])],
        weights,
    )  # fmt: skip
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()


def time_forward(keras_file: Path, rows: int = 256, repeats: int = 5) -> None:
    """Print how far OpenCV's run of the network is from Keras', and ms per ``rows`` images
    for it and for the shipped MLP's NumPy forward pass, each with its library's default
    threads, as a scan runs them (OPENBLAS_NUM_THREADS=1 and OpenCV's setNumThreads(1)
    for one thread each)."""
    import keras

    model = keras.saving.load_model(keras_file, compile=False, safe_mode=True)
    net = cv2.dnn.readNetFromONNX(np.frombuffer(to_onnx(model), np.uint8))
    images = load_mnist().x_test[:rows]
    pixels = to_input(images)
    net.setInput(pixels)
    gap = float(np.abs(net.forward() - model.predict(pixels, verbose=0)).max())
    print(f"max |OpenCV dnn - Keras| over {rows} MNIST test digits: {gap:.2e}")
    mlp = Recognizer.load()
    for name, forward in (("the CNN, OpenCV dnn", lambda: (net.setInput(pixels), net.forward())),
                          ("the shipped MLP, NumPy", lambda: mlp.predict_proba(images))):
        forward()
        start = time.perf_counter()
        for _ in range(repeats):
            forward()
        print(f"{name}: {(time.perf_counter() - start) / repeats * 1e3:.1f} ms per {rows} digits")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=HERE / ".cache" / "cnn-pilot")
    parser.add_argument("--time", type=Path, metavar="MODEL.keras",
                        help="time a trained pilot's forward pass instead of training one")
    args = parser.parse_args(argv)
    if args.time:
        time_forward(args.time)
        return
    with (
        mock.patch.object(training, "build_mlp", build_cnn),
        mock.patch.object(training, "export_weights", lambda model, path: None),
        mock.patch.object(training, "write_checksums", lambda folder: None),
        mock.patch.object(training, "evaluate", with_keras(training.evaluate)),
        mock.patch.object(training, "rejection_rates", with_keras(training.rejection_rates)),
    ):
        training.train(training.TrainConfig(epochs=args.epochs, seed=args.seed), args.out)


def with_keras(score):
    """``score`` (``training.evaluate`` or ``rejection_rates``) on the .keras file: train()
    asks for the .npz it exported, with the NumPy engine."""
    return lambda *args, **kwargs: score(*args, **{**kwargs, "engine": "keras"})


if __name__ == "__main__":
    main()

"""Training the MLP on MNIST: fresh augmented digits and negatives every epoch, then the
export and the checks."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from notes_ocr.mnist import load_mnist
from notes_ocr.recognizer import (
    KERAS_NAME,
    N_DIGITS,
    NOT_DIGIT,
    NPZ_NAME,
    import_keras,
    to_input,
    write_checksums,
)
from notes_ocr.training.augment import P_FLAG, add_flags, augment_digits
from notes_ocr.training.evaluation import evaluate, rejection_rates
from notes_ocr.training.export import export_weights
from notes_ocr.training.model import build_mlp
from notes_ocr.training.negatives import NEGATIVE_RATIO, NEGATIVE_WEIGHT, make_negatives

if TYPE_CHECKING:
    pass

@dataclass
class TrainConfig:
    """Everything that decides the trained model; the defaults make the shipped one."""

    hidden: tuple[int, ...] = (1536, 1536)
    dropout: float = 0.2
    epochs: int = 100
    batch_size: int = 256
    learning_rate: float = 1e-3
    seed: int = 0
    augment: bool = True
    reject: bool = True  # learn the NOT_DIGIT class from negatives; False: 10 outputs
    limit: int | None = None  # train on the first `limit` digits only (smoke tests)



# Share of each epoch's digits left as MNIST has them. Re-fitting blurs MNIST's rendering a
# little; seeing some digits as they are kept the model sharp on them (a 15-epoch pilot:
# 98.9% MNIST test accuracy with every digit augmented, 99.2% with 30% kept as they are).
KEEP_ORIGINAL = 0.3


def train(
    config: TrainConfig,
    out_dir: str | Path,
    mnist_path: str | Path | None = None,
    log: Callable[[str], None] = print,
) -> Path:
    """Train the MLP on MNIST and write ``out_dir/mlp.keras`` and ``out_dir/mlp.npz``.

    Each epoch sees a fresh augmented copy of the training digits and, unless
    ``config.reject`` is off, fresh negatives labelled NOT_DIGIT made from them (both made
    in a background thread while the previous epoch trains). Adam with a cosine-decayed
    learning rate. Logs one line per epoch and, at the end, the exported weights' MNIST test
    accuracy and how they do on held-out negatives made from the test digits.

    Returns the path of the .keras file.
    """
    keras = import_keras()

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    data = load_mnist(mnist_path)
    digits = data.x_train[: config.limit]
    labels = data.y_train[: config.limit].astype(np.int64)
    n_negatives = round(NEGATIVE_RATIO * len(digits)) if config.reject else 0
    n_classes = N_DIGITS + 1 if config.reject else N_DIGITS
    log(
        f"training {config} on {len(digits)} digits from {data.source}"
        f" and {n_negatives} fresh negatives an epoch; {len(data.x_test)} test digits held out"
    )

    # Where the CPU multiplies bfloat16 natively, Keras' mixed precision (bfloat16 maths,
    # float32 weights) about halves the time of an epoch; elsewhere it would be emulated
    # and slower, so float32 stays.
    precision = "mixed_bfloat16" if cpu_has_bfloat16() else "float32"
    log(f"precision: {precision}")
    keras.mixed_precision.set_global_policy(precision)
    try:
        model = build_mlp(config.hidden, config.dropout, n_classes)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    steps_per_epoch = math.ceil((len(digits) + n_negatives) / config.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(
        config.learning_rate, decay_steps=max(1, config.epochs * steps_per_epoch)
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=schedule),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )

    # One generator per epoch, so an epoch's augmentation depends on the seed alone and not
    # on how the work was scheduled.
    epoch_rngs = [
        np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(config.epochs)
    ]

    def epoch_inputs(epoch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        started = time.perf_counter()
        rng = epoch_rngs[epoch]
        images, targets = digits, labels
        weights = np.ones(len(digits), np.float32)
        if config.augment:
            images = digits.copy()
            flagged = (labels == 1) & (rng.random(len(digits)) < P_FLAG)
            images[flagged] = add_flags(digits[flagged], rng)
            changed = rng.random(len(digits)) >= KEEP_ORIGINAL
            images[changed] = augment_digits(images[changed], rng)
        if n_negatives:
            # Made from this epoch's digits: the negatives vary with the augmentation.
            negatives = make_negatives(images, labels, n_negatives, rng)
            images = np.concatenate([images, negatives])
            targets = np.concatenate([labels, np.full(len(negatives), NOT_DIGIT, np.int64)])
            weights = np.concatenate(
                [weights, np.full(len(negatives), NEGATIVE_WEIGHT, np.float32)]
            )
        return to_input(images), targets, weights, time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(epoch_inputs, 0) if config.epochs else None
        for epoch in range(config.epochs):
            inputs, targets, weights, augment_s = pending.result()
            if epoch + 1 < config.epochs:
                pending = pool.submit(epoch_inputs, epoch + 1)
            fit_started = time.perf_counter()
            history = model.fit(
                inputs,
                targets,
                sample_weight=weights,
                batch_size=config.batch_size,
                epochs=epoch + 1,
                initial_epoch=epoch,
                shuffle=True,
                verbose=0,
            )
            step = int(model.optimizer.iterations.numpy())
            log(
                f"epoch {epoch + 1}/{config.epochs}: "
                f"loss {history.history['loss'][-1]:.4f} "
                f"accuracy {history.history['accuracy'][-1]:.4f} "
                f"lr {float(schedule(step)):.2e} "
                f"({time.perf_counter() - fit_started:.1f} s fit, {augment_s:.1f} s augment, "
                f"{time.perf_counter() - started:.0f} s total)"
            )

    keras_path = out_dir / KERAS_NAME
    # A fresh uncompiled float32 copy has no optimizer state: the file is a third of the size.
    clean = build_mlp(config.hidden, config.dropout, n_classes)
    clean.set_weights(model.get_weights())
    clean.save(keras_path)
    export_weights(clean, out_dir / NPZ_NAME)
    write_checksums(out_dir)  # the model carries its own sums, checked when it is loaded

    if config.reject:
        rates = rejection_rates(out_dir / NPZ_NAME, engine="numpy", mnist=data)
        log(
            "held-out negatives from the test digits read as NOT_DIGIT: "
            + ", ".join(f"{kind} {rate:.3f}" for kind, rate in rates.items())
        )
    result = evaluate(out_dir / NPZ_NAME, mnist_path, engine="numpy", mnist=data)
    log(
        f"test accuracy {result.accuracy:.4f} ({len(data.y_test)} MNIST test digits, "
        f"{result.rejected} rejected as not a digit); wrote {keras_path} and "
        f"{out_dir / NPZ_NAME} in {time.perf_counter() - started:.0f} s"
    )
    return keras_path


def cpu_has_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AVX-512 BF16 or AMX), on Linux."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags

"""DCGAN on MNIST (Conv2DTranspose generator), judged by a glassnet CNN classifier (docs/generative.md).

    PYTHONPATH=src python examples/dcgan_mnist.py --epochs 2 --out dcgan_mnist.json

G: z (64) -> Dense(7*7*64) -> BatchNorm -> ReLU -> Reshape(7, 7, 64) -> Conv2DTranspose(32, 4, strides 2,
same) -> BatchNorm -> ReLU -> Conv2DTranspose(1, 4, strides 2, same, tanh): 28x28x1 in [-1, 1].
D: Conv2D(32, 4, strides 2, same) -> LeakyReLU(0.2) -> Conv2D(64, 4, strides 2, same) -> LeakyReLU(0.2)
-> Flatten -> Dense(1) (a logit). Adam(2e-4, beta_1=0.5) each (Radford et al., 2016), pixels scaled to
[-1, 1], one-sided label smoothing 0.1.
Judges (``--judge``), trained here on the MNIST labels (or loaded from ``--judge-file``):
  convnet (the default): the Keras mnist_convnet network, Conv2D(32, 3, relu) -> MaxPool 2 -> Conv2D(64, 3, relu)
      -> MaxPool 2 -> Flatten -> Dropout(0.5) -> Dense(10, softmax), Adam 1e-3 cosine-decayed to 0 over
      ``--judge-epochs`` (default 10) epochs of batch 128.
  small: Conv2D(16, 3, relu) -> MaxPool 2 -> Conv2D(32, 3, relu) -> MaxPool 2 -> Flatten -> Dense(10, softmax),
      Adam 1e-3, 1 epoch (the first runs' judge: 97.1% test accuracy, but only 89.0% of the real test images get
      a confidence > 0.9 from it, so even real digits would fail the 90% target).
Score on 10,000 samples: the share classified with confidence > 0.9 (target >= 90%), and each class's share
(target >= 5% each); the judge's own confident share on the 10,000 real test images is printed beside it, the
reference a generator's samples are measured against.
``--ema D`` keeps an exponential moving average of the generator's weights (``gn.callbacks.
ExponentialMovingAverage``, a_t = D a_{t-1} + (1 - D) w_t, kept beside ``--state`` as STATE.ema.npz) and
scores the averaged generator too; ``--lr`` sets both Adam learning rates (e.g. lower, late in a run);
``--epochs 0`` trains nothing and only scores the saved state; ``--z-scales 0.8,0.6`` also scores G(s z) for those
scales s (a sampling temperature below 1: fewer odd samples, possibly fewer kinds).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
from mnist_common import MNIST, TimeLimit, load_or_build, mnist_pixels, report  # examples/mnist_common.py

import glassnet as gn
from glassnet.diagnostics.gan import diagnose_gan

L = gn.layers



JUDGE_EPOCHS = {"convnet": 10, "small": 1}


def judge_model(x: np.ndarray, y: np.ndarray, arch: str, epochs: int, seed: int) -> gn.Sequential:
    """The classifier that scores the samples (module docstring), trained on the MNIST labels."""
    gn.set_seed(seed)
    if arch == "convnet":
        body = [L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(2), L.Conv2D(64, 3, activation="relu"),
                L.MaxPooling2D(2), L.Flatten(), L.Dropout(0.5)]
        steps = epochs * -(-len(x) // 128)
        optimizer = gn.optimizers.Adam(gn.schedules.CosineDecay(1e-3, steps))
    else:
        body = [L.Conv2D(16, 3, activation="relu"), L.MaxPooling2D(2), L.Conv2D(32, 3, activation="relu"),
                L.MaxPooling2D(2), L.Flatten()]
        optimizer = gn.optimizers.Adam(1e-3)
    judge = gn.Sequential([L.Input(shape=(28, 28, 1)), *body, L.Dense(10, activation="softmax")],
                          name=f"judge_{arch}")
    judge.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    judge.fit(x, y, epochs=epochs, batch_size=128, verbose=2, seed=seed)
    return judge


def dcgan(latent: int, seed: int, label_smoothing: float) -> gn.models.GAN:
    gn.set_seed(seed)
    generator = gn.Sequential([L.Input(shape=(latent,)), L.Dense(7 * 7 * 64), L.BatchNormalization(), L.ReLU(),
                               L.Reshape((7, 7, 64)),
                               L.Conv2DTranspose(32, 4, strides=2, padding="same"), L.BatchNormalization(), L.ReLU(),
                               L.Conv2DTranspose(1, 4, strides=2, padding="same", activation="tanh")],
                              name="generator")
    discriminator = gn.Sequential([L.Input(shape=(28, 28, 1)), L.Conv2D(32, 4, strides=2, padding="same"),
                                   L.LeakyReLU(0.2), L.Conv2D(64, 4, strides=2, padding="same"), L.LeakyReLU(0.2),
                                   L.Flatten(), L.Dense(1)], name="discriminator")
    return gn.models.GAN(generator, discriminator, latent_dim=latent, label_smoothing=label_smoothing, seed=seed)


def score(judge: gn.Sequential, samples: np.ndarray) -> dict[str, object]:
    p = judge.predict(samples, batch_size=500)
    shares = np.bincount(p.argmax(axis=1), minlength=10) / len(p)
    confident = float(np.mean(p.max(axis=1) > 0.9))
    return {"confident_share": confident, "class_shares": [round(float(s), 4) for s in shares],
            "min_class_share": float(shares.min()), "passed": bool(confident >= 0.9 and shares.min() >= 0.05)}


def load_judge(args: argparse.Namespace, x: np.ndarray, y: np.ndarray) -> tuple[gn.Sequential, float]:
    """The judge from ``--judge-file`` if it exists, else trained (and saved there); and its training time."""
    start = time.perf_counter()
    if args.judge_file and os.path.exists(args.judge_file):
        return gn.load_model(args.judge_file), 0.0
    epochs = args.judge_epochs or JUDGE_EPOCHS[args.judge]
    judge = judge_model(x, y, args.judge, epochs, args.seed)
    if args.judge_file:
        judge.save(args.judge_file)
    return judge, time.perf_counter() - start


def ema_callback(args: argparse.Namespace, gan: gn.models.GAN) -> gn.callbacks.ExponentialMovingAverage | None:
    """The generator's weight average, continued from STATE.ema.npz when an earlier stage left one."""
    if not args.ema:
        return None
    ema = gn.callbacks.ExponentialMovingAverage(args.ema, attribute="generator")
    ema.set_model(gan)  # fit sets it too; --epochs 0 only swaps the saved average in
    path = f"{args.state}.ema.npz" if args.state else None
    if path and os.path.exists(path):
        with np.load(path) as saved:
            count = sum(1 for key in saved.files if key.startswith("average_"))
            ema.set_state({"averages": [saved[f"average_{i}"] for i in range(count)],
                           "updates": int(saved["updates"])})
    return ema


def save_ema(ema: gn.callbacks.ExponentialMovingAverage, state: str) -> None:
    state_now = ema.get_state()
    arrays = {f"average_{i}": a for i, a in enumerate(state_now["averages"])}
    np.savez(f"{state}.ema.npz", updates=np.int64(state_now["updates"]), **arrays)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=str(MNIST))
    parser.add_argument("--epochs", type=int, default=2, help="0: train nothing, score the saved --state")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--latent", type=int, default=64)
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--limit", type=int, default=0, help="train the GAN on the first N images (0: all)")
    parser.add_argument("--judge", choices=sorted(JUDGE_EPOCHS), default="convnet", help="the classifier (default "
                        "convnet, the Keras mnist_convnet network; small: the first runs' judge)")
    parser.add_argument("--judge-epochs", type=int, default=0, help="0: 10 for convnet, 1 for small")
    parser.add_argument("--judge-file", default=None, help="load the judge from / save it to this model file")
    parser.add_argument("--lr", type=float, default=0, help="set both Adam learning rates to this (0: keep)")
    parser.add_argument("--ema", type=float, default=0, help="average the generator's weights with this decay")
    parser.add_argument("--z-scales", default="", help="also score G(s z) for these scales s, e.g. 0.8,0.6")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-seconds", type=float, default=0, help="stop training after this long (0: no limit)")
    parser.add_argument("--state", default=None, help="continue from / save to this model file (stages of a run)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    x, y, x_test, y_test = mnist_pixels(args.data, (28, 28, 1))
    judge, judge_seconds = load_judge(args, x, y)
    judge_accuracy = judge.evaluate(x_test, y_test)["accuracy"]
    real_confident = float(np.mean(judge.predict(x_test, batch_size=500).max(axis=1) > 0.9))
    print(json.dumps({"judge": judge.name, "judge_test_accuracy": judge_accuracy, "judge_seconds":
                      round(judge_seconds, 1), "judge_real_confident_share": real_confident}), flush=True)
    gan, resumed = load_or_build(args.state, lambda: dcgan(args.latent, args.seed, args.label_smoothing))
    if not resumed:
        gan.compile()
    if args.lr:
        gan.d_optimizer.learning_rate = gan.g_optimizer.learning_rate = args.lr
    real = 2 * (x[: args.limit] if args.limit else x) - 1
    steps_before = gan.g_optimizer.iterations
    ema = ema_callback(args, gan)
    callbacks = [TimeLimit(args.max_seconds), *([ema] if ema else [])]
    start = time.perf_counter()
    history = None
    if args.epochs:
        history = gan.fit(real, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed + steps_before,
                          verbose=2, callbacks=callbacks)
    seconds = time.perf_counter() - start
    if args.state and args.epochs:
        gan.save(args.state, include_optimizer=True)
        if ema is not None:
            save_ema(ema, args.state)
    samples = (gan.sample(10_000, seed=1) + 1) / 2
    findings = diagnose_gan(samples, real=(real[:2000] + 1) / 2, classify=judge.predict, n_classes=10)
    result = {**score(judge, samples), "judge": judge.name, "judge_test_accuracy": judge_accuracy,
              "judge_real_confident_share": real_confident,
              "steps_this_stage": gan.g_optimizer.iterations - steps_before, "steps_total": gan.g_optimizer.iterations,
              "resumed": resumed, "learning_rate": float(gan.g_optimizer.learning_rate),
              "train_images": len(real), "batch_size": args.batch_size, "train_seconds": round(seconds, 1),
              "judge_seconds": round(judge_seconds, 1),
              "last_epoch": {k: round(v[-1], 4) for k, v in history.history.items()} if history else {},
              "diagnosis": [finding.text for finding in findings]}
    result["z_scales"] = scaled_scores(gan, judge, args.z_scales)
    if ema is not None and ema.averages is not None:
        with ema.swapped():
            averaged = (gan.sample(10_000, seed=1) + 1) / 2
            result["ema"] = {**score(judge, averaged), "decay": args.ema, "updates": ema.updates,
                             "z_scales": scaled_scores(gan, judge, args.z_scales)}
    report(result, args.out, samples)


def scaled_scores(gan: gn.models.GAN, judge: gn.Sequential, scales: str) -> dict[str, object]:
    """The score of 10,000 samples G(s z), z ~ N(0, I) (the same z as ``sample(10_000, seed=1)``), for each
    scale s in the comma-separated ``scales``: s < 1 trades diversity for typical samples (a temperature, the
    simple form of the truncation trick of Brock et al., 2019)."""
    z = np.random.default_rng(1).standard_normal((10_000, gan.latent_dim)).astype(gan.dtype)
    return {scale: score(judge, (gan.predict(float(scale) * z) + 1) / 2) for scale in filter(None, scales.split(","))}


if __name__ == "__main__":
    main()

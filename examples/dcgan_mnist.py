"""DCGAN on MNIST (Conv2DTranspose generator), judged by a glassnet CNN classifier (docs/generative.md).

    PYTHONPATH=src python examples/dcgan_mnist.py --epochs 2 --out dcgan_mnist.json

G: z (64) -> Dense(7*7*64) -> BatchNorm -> ReLU -> Reshape(7, 7, 64) -> Conv2DTranspose(32, 4, strides 2,
same) -> BatchNorm -> ReLU -> Conv2DTranspose(1, 4, strides 2, same, tanh): 28x28x1 in [-1, 1].
D: Conv2D(32, 4, strides 2, same) -> LeakyReLU(0.2) -> Conv2D(64, 4, strides 2, same) -> LeakyReLU(0.2)
-> Flatten -> Dense(1) (a logit). Adam(2e-4, beta_1=0.5) each (Radford et al., 2016), pixels scaled to
[-1, 1], one-sided label smoothing 0.1.
The judge: Conv2D(16, 3, relu) -> MaxPool 2 -> Conv2D(32, 3, relu) -> MaxPool 2 -> Flatten -> Dense(10,
softmax), trained here on the MNIST labels. Score on 10,000 samples: the share classified with
confidence > 0.9 (target >= 90%), and each class's share (target >= 5% each).
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



def judge_model(x: np.ndarray, y: np.ndarray, epochs: int, seed: int) -> gn.Sequential:
    gn.set_seed(seed)
    judge = gn.Sequential([L.Input(shape=(28, 28, 1)), L.Conv2D(16, 3, activation="relu"), L.MaxPooling2D(2),
                           L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(2), L.Flatten(),
                           L.Dense(10, activation="softmax")], name="judge")
    judge.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    judge.fit(x, y, epochs=epochs, batch_size=128, verbose=0, seed=seed)
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=str(MNIST))
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--latent", type=int, default=64)
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--limit", type=int, default=0, help="train the GAN on the first N images (0: all)")
    parser.add_argument("--judge-epochs", type=int, default=1)
    parser.add_argument("--judge-file", default=None, help="load the judge from / save it to this model file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-seconds", type=float, default=0, help="stop training after this long (0: no limit)")
    parser.add_argument("--state", default=None, help="continue from / save to this model file (stages of a run)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    x, y, x_test, y_test = mnist_pixels(args.data, (28, 28, 1))
    start = time.perf_counter()
    if args.judge_file and os.path.exists(args.judge_file):
        judge = gn.load_model(args.judge_file)
    else:
        judge = judge_model(x, y, args.judge_epochs, args.seed)
        if args.judge_file:
            judge.save(args.judge_file)
    judge_seconds = time.perf_counter() - start
    judge_accuracy = judge.evaluate(x_test, y_test)["accuracy"]
    print(json.dumps({"judge_test_accuracy": judge_accuracy, "judge_seconds": round(judge_seconds, 1)}), flush=True)
    gan, resumed = load_or_build(args.state, lambda: dcgan(args.latent, args.seed, args.label_smoothing))
    if not resumed:
        gan.compile()
    real = 2 * (x[: args.limit] if args.limit else x) - 1
    steps_before = gan.g_optimizer.iterations
    start = time.perf_counter()
    history = gan.fit(real, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed + steps_before,
                      verbose=2, callbacks=[TimeLimit(args.max_seconds)])
    seconds = time.perf_counter() - start
    if args.state:
        gan.save(args.state, include_optimizer=True)
    samples = (gan.sample(10_000, seed=1) + 1) / 2
    findings = diagnose_gan(samples, real=(real[:2000] + 1) / 2, classify=judge.predict, n_classes=10)
    result = {**score(judge, samples), "judge_test_accuracy": judge_accuracy,
              "steps_this_stage": gan.g_optimizer.iterations - steps_before, "steps_total": gan.g_optimizer.iterations,
              "resumed": resumed,
              "train_images": len(real), "batch_size": args.batch_size, "train_seconds": round(seconds, 1),
              "judge_seconds": round(judge_seconds, 1),
              "last_epoch": {k: round(v[-1], 4) for k, v in history.history.items()},
              "diagnosis": [finding.text for finding in findings]}
    report(result, args.out, samples)


if __name__ == "__main__":
    main()

"""Dense GAN on MNIST, scored by a glassnet classifier (docs/generative.md).

    PYTHONPATH=src python examples/gan_mnist.py --epochs 20 --out gan_mnist.json

G: 100-256-512-784 (LeakyReLU 0.2, sigmoid out); D: 784-512-256-1 (LeakyReLU 0.2, logit), Adam(2e-4,
beta_1=0.5) each, one-sided label smoothing 0.1. The judge is a dense classifier (784-256-10, trained
here for 3 epochs on the MNIST labels; the issue asks for a CNN, which this branch does not have yet).
Score on 10,000 samples: the share classified with confidence > 0.9, and the share of each class.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from mnist_common import MNIST, mnist_pixels, report  # examples/mnist_common.py

import glassnet as gn

L = gn.layers


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=str(MNIST))
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tanh", action="store_true", help="train on pixels in [-1, 1] with a tanh output")
    parser.add_argument("--dropout", type=float, default=0.0, help="dropout after each hidden layer of D")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    x, y, x_test, y_test = mnist_pixels(args.data)
    gn.set_seed(args.seed)
    judge = gn.Sequential([L.Input(shape=(784,)), L.Dense(256, activation="relu"), L.Dense(10, activation="softmax")])
    judge.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    judge.fit(x, y, epochs=3, batch_size=128, verbose=0, seed=args.seed)
    judge_accuracy = judge.evaluate(x_test, y_test)["accuracy"]
    generator = gn.Sequential([L.Input(shape=(100,)), L.Dense(256), L.LeakyReLU(0.2), L.Dense(512), L.LeakyReLU(0.2),
                               L.Dense(784, activation="tanh" if args.tanh else "sigmoid")], name="generator")

    def drop() -> list:
        return [L.Dropout(args.dropout)] if args.dropout else []

    discriminator = gn.Sequential([L.Input(shape=(784,)), L.Dense(512), L.LeakyReLU(0.2), *drop(), L.Dense(256),
                                   L.LeakyReLU(0.2), *drop(), L.Dense(1)], name="discriminator")
    gan = gn.models.GAN(generator, discriminator, latent_dim=100, label_smoothing=0.1, seed=args.seed)
    gan.compile()
    start = time.perf_counter()
    gan.fit(2 * x - 1 if args.tanh else x, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed, verbose=2)
    seconds = time.perf_counter() - start
    samples = gan.sample(10_000, seed=1)
    if args.tanh:
        samples = (samples + 1) / 2
    p = judge.predict(samples)
    shares = np.bincount(p.argmax(axis=1), minlength=10) / len(p)
    confident = float(np.mean(p.max(axis=1) > 0.9))
    result = {"confident_share": confident, "class_shares": [round(float(s), 4) for s in shares],
              "min_class_share": float(shares.min()), "judge_test_accuracy": judge_accuracy,
              "passed": bool(confident >= 0.9 and shares.min() >= 0.05), "epochs": args.epochs,
              "tanh": args.tanh, "dropout": args.dropout,
              "train_seconds": round(seconds, 1)}
    report(result, args.out, samples)


if __name__ == "__main__":
    main()

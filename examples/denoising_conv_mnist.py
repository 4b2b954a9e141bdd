"""Convolutional denoising autoencoder on MNIST, the Keras example's setting (docs/generative.md).

    PYTHONPATH=src python examples/denoising_conv_mnist.py --epochs 3 --out dae_mnist.json

Inputs x' = clip(x + 0.4 eps, 0, 1) with eps ~ N(0, 1) per pixel, targets the clean x (pixels / 255).
Encoder Conv2D(32, 3, relu, same) -> MaxPool 2 -> Conv2D(32, 3, relu, same) -> MaxPool 2 (7x7x32);
decoder Conv2DTranspose(32, 3, strides 2, relu, same) x 2 -> Conv2D(1, 3, sigmoid, same); Adam,
binary cross-entropy per pixel. Reported on the noisy test set: the BCE per pixel (target <= 0.10;
Keras reports 0.084 after 100 epochs) and the PSNR of the reconstruction and of the noisy input,
PSNR = 10 log10(1 / MSE) for pixels in [0, 1].
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from mnist_common import MNIST, TimeLimit, load_or_build, mnist_pixels, report  # examples/mnist_common.py

import glassnet as gn

L = gn.layers


def build(seed: int) -> gn.models.Autoencoder:
    gn.set_seed(seed)
    encoder = gn.Sequential([L.Input(shape=(28, 28, 1)),
                             L.Conv2D(32, 3, activation="relu", padding="same"), L.MaxPooling2D(2, padding="same"),
                             L.Conv2D(32, 3, activation="relu", padding="same"), L.MaxPooling2D(2, padding="same")],
                            name="encoder")
    decoder = gn.Sequential([L.Input(shape=(7, 7, 32)),
                             L.Conv2DTranspose(32, 3, strides=2, activation="relu", padding="same"),
                             L.Conv2DTranspose(32, 3, strides=2, activation="relu", padding="same"),
                             L.Conv2D(1, 3, activation="sigmoid", padding="same")], name="decoder")
    return gn.models.Autoencoder(encoder, decoder, name="denoiser")



def bce(x: np.ndarray, x_hat: np.ndarray) -> float:
    """Mean over pixels of -(x log p + (1 - x) log(1 - p)), p clipped to [1e-7, 1 - 1e-7] as in Keras."""
    p = np.clip(x_hat.astype(np.float64), 1e-7, 1 - 1e-7)
    return float(np.mean(-(x * np.log(p) + (1 - x) * np.log1p(-p))))


def psnr(x: np.ndarray, x_hat: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((x.astype(np.float64) - x_hat) ** 2)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=str(MNIST))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--noise", type=float, default=0.4)
    parser.add_argument("--limit", type=int, default=0, help="train on the first N images only (0: all 60,000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-seconds", type=float, default=0, help="stop training after this long (0: no limit)")
    parser.add_argument("--state", default=None, help="continue from / save to this model file (stages of a run)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    x, _, x_test, _ = mnist_pixels(args.data, (28, 28, 1))
    if args.limit:
        x = x[: args.limit]
    noisy = gn.preprocessing.add_noise(x, amount=args.noise, seed=args.seed)
    noisy_test = gn.preprocessing.add_noise(x_test, amount=args.noise, seed=args.seed + 1)
    model, resumed = load_or_build(args.state, lambda: build(args.seed))
    if not resumed:
        model.compile(optimizer=gn.optimizers.Adam(args.lr), loss="binary_crossentropy")
    steps_before = model.optimizer.iterations
    start = time.perf_counter()
    history = model.fit(noisy, x, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed + steps_before,
                        verbose=2, callbacks=[TimeLimit(args.max_seconds)])
    seconds = time.perf_counter() - start
    if args.state:
        model.save(args.state, include_optimizer=True)
    denoised = model.predict(noisy_test, batch_size=500)
    result = {"test_bce_per_pixel": bce(x_test, denoised), "psnr_denoised_db": psnr(x_test, denoised),
              "psnr_noisy_db": psnr(x_test, noisy_test), "steps_this_stage": model.optimizer.iterations - steps_before,
              "steps_total": model.optimizer.iterations,
              "train_images": len(x),
              "batch_size": args.batch_size, "train_seconds": round(seconds, 1),
              "train_loss": [round(v, 5) for v in history.history["loss"]], "resumed": resumed}
    result["psnr_gain_db"] = result["psnr_denoised_db"] - result["psnr_noisy_db"]
    result["passed"] = result["test_bce_per_pixel"] <= 0.10
    report(result, args.out)


if __name__ == "__main__":
    main()

"""Dense VAE on MNIST with a 2-D latent space; test negative ELBO per image (docs/generative.md).

    PYTHONPATH=src python examples/vae_mnist.py --epochs 30 --out vae_mnist.json

Encoder 784-512-[2, 2], decoder 2-512-784 (sigmoid), loss binary cross-entropy (a mean over the 784
pixels) with ``kl_weight = 1/784``, so the objective is the negative ELBO per image divided by 784.
The test figure is the single-sample estimate -ELBO = sum over pixels of BCE(x, decoder(z)) + KL,
z ~ q(z | x), averaged over the 10,000 test images (nats per image; pixels in [0, 1], not binarized).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from mnist_common import MNIST, mnist_pixels  # examples/mnist_common.py

import glassnet as gn
from glassnet.layers.sampling import kl_divergence

L = gn.layers


def negative_elbo(vae: gn.models.VAE, x: np.ndarray, seed: int = 0) -> dict[str, float]:
    """Single-sample -ELBO per image: reconstruction (BCE summed over pixels) + KL, both averaged over x."""
    z_mean, z_log_var = vae.encoder.predict(x)
    eps = np.random.default_rng(seed).standard_normal(z_mean.shape).astype(z_mean.dtype)
    p = np.clip(vae.decode(z_mean + np.exp(0.5 * z_log_var) * eps), 1e-7, 1 - 1e-7).astype(np.float64)
    reconstruction = float(-np.mean(np.sum(x * np.log(p) + (1 - x) * np.log1p(-p), axis=1)))
    kl = kl_divergence(z_mean.astype(np.float64), z_log_var.astype(np.float64))
    return {"negative_elbo": reconstruction + kl, "reconstruction_nats": reconstruction, "kl_nats": kl}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=str(MNIST))
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    x, y, x_test, y_test = mnist_pixels(args.data)
    gn.set_seed(args.seed)
    inputs = L.Input(shape=(784,))
    hidden = L.Dense(512, activation="relu")(inputs)
    encoder = gn.Model(inputs=inputs, outputs=[L.Dense(2, name="z_mean")(hidden), L.Dense(2, name="z_log_var")(hidden)],
                       name="encoder")
    decoder = gn.Sequential([L.Input(shape=(2,)), L.Dense(512, activation="relu"), L.Dense(784, activation="sigmoid")],
                            name="decoder")
    vae = gn.models.VAE(encoder, decoder, kl_weight=1 / 784, seed=args.seed)
    vae.compile(optimizer=gn.optimizers.Adam(1e-3), loss="binary_crossentropy")
    start = time.perf_counter()
    vae.fit(x, epochs=args.epochs, batch_size=args.batch_size, validation_data=(x_test,), seed=args.seed, verbose=2)
    seconds = time.perf_counter() - start
    result = {**negative_elbo(vae, x_test), "epochs": args.epochs, "batch_size": args.batch_size,
              "train_seconds": round(seconds, 1)}
    print(json.dumps(result))
    if args.out:
        with open(args.out, "w") as handle:
            json.dump(result, handle, indent=2)
        np.savez_compressed(args.out.replace(".json", "_latent.npz"), z_mean=vae.encode(x_test), y=y_test)


if __name__ == "__main__":
    main()

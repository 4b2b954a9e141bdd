"""Dense autoencoder on MNIST (784-128-32-128-784) against PCA with 32 components (docs/generative.md).

    PYTHONPATH=src python examples/autoencoder_mnist.py --epochs 30 --out ae_mnist.json

Test reconstruction MSE per pixel (pixels in [0, 1]) of the autoencoder and of the best rank-32 linear
reconstruction (PCA fitted on the training images with NumPy's SVD).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from mnist_common import MNIST, mnist_pixels  # examples/mnist_common.py

import glassnet as gn

L = gn.layers


def pca_mse(x: np.ndarray, x_test: np.ndarray, k: int) -> float:
    """Test MSE of the rank-k PCA reconstruction fitted on x (float64 SVD of the centred data)."""
    mean = x.mean(axis=0, dtype=np.float64)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    basis = vt[:k]
    centred = x_test - mean
    return float(np.mean((centred @ basis.T @ basis - centred) ** 2))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=str(MNIST))
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    x, _, x_test, _ = mnist_pixels(args.data)
    gn.set_seed(args.seed)
    encoder = gn.Sequential([L.Input(shape=(784,)), L.Dense(128, activation="relu"), L.Dense(32, activation="relu")],
                            name="encoder")
    decoder = gn.Sequential([L.Input(shape=(32,)), L.Dense(128, activation="relu"),
                             L.Dense(784, activation="sigmoid")], name="decoder")
    model = gn.models.Autoencoder(encoder, decoder)
    model.compile(optimizer=gn.optimizers.Adam(1e-3), loss="mse")
    start = time.perf_counter()
    history = model.fit(x, epochs=args.epochs, batch_size=args.batch_size, validation_data=(x_test,), seed=args.seed,
                        verbose=2)
    seconds = time.perf_counter() - start
    test_mse = float(np.mean((model.reconstruct(x_test) - x_test) ** 2))
    result = {"test_mse": test_mse, "pca32_test_mse": pca_mse(x, x_test, 32), "epochs": args.epochs,
              "batch_size": args.batch_size, "train_seconds": round(seconds, 1),
              "final_train_loss": history.history["loss"][-1]}
    print(json.dumps(result))
    if args.out:
        with open(args.out, "w") as handle:
            json.dump(result, handle, indent=2)


if __name__ == "__main__":
    main()

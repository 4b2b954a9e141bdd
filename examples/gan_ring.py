"""GAN on a ring of 8 Gaussians (radius 2, std 0.02): the standard mode-collapse test (docs/generative.md).

    PYTHONPATH=src python examples/gan_ring.py --epochs 60 --out gan_ring.json

Criteria, on 10,000 samples of the trained generator: every mode (nearest centre) receives at least 5%
of them, and at least 90% lie within 3 std (0.06) of a centre.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import glassnet as gn

L = gn.layers
MODES, RADIUS, STD = 8, 2.0, 0.02
CENTRES = RADIUS * np.stack([np.cos(2 * np.pi * np.arange(MODES) / MODES),
                             np.sin(2 * np.pi * np.arange(MODES) / MODES)], axis=1)


def ring(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (CENTRES[rng.integers(0, MODES, n)] + STD * rng.standard_normal((n, 2))).astype("float32")


def coverage(samples: np.ndarray) -> dict[str, object]:
    """Share of samples per nearest mode, and the share within 3 std of its mode."""
    distances = np.linalg.norm(samples[:, None, :] - CENTRES[None, :, :], axis=2)
    nearest = distances.argmin(axis=1)
    shares = np.bincount(nearest, minlength=MODES) / len(samples)
    close = float(np.mean(distances.min(axis=1) < 3 * STD))
    return {"mode_shares": [round(float(s), 4) for s in shares], "min_mode_share": float(shares.min()),
            "within_3_std": close, "modes_covered": int(np.sum(shares >= 0.05)),
            "passed": bool(shares.min() >= 0.05 and close >= 0.90)}


class Report(gn.callbacks.Callback):
    """Coverage every ``every`` epochs, printed, so a run shows how the modes fill in."""

    def __init__(self, every: int) -> None:
        super().__init__()
        self.every, self.rows = every, []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if (epoch + 1) % self.every == 0:
            row = {"epoch": epoch + 1, **coverage(self.model.sample(10_000, seed=1)), **(logs or {})}
            self.rows.append(row)
            print(json.dumps({k: row[k] for k in ("epoch", "modes_covered", "min_mode_share", "within_3_std",
                                                  "d_loss", "g_loss")}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--latent", type=int, default=8)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--half-life", type=int, default=0, help="steps per halving of the learning rate (0: fixed)")
    parser.add_argument("--label-smoothing", type=float, default=0.0)
    parser.add_argument("--d-steps", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    gn.set_seed(args.seed)
    w = args.width
    generator = gn.Sequential([L.Input(shape=(args.latent,)), L.Dense(w, activation="relu"),
                               L.Dense(w, activation="relu"), L.Dense(2)], name="generator")
    discriminator = gn.Sequential([L.Input(shape=(2,)), L.Dense(w, activation="relu"),
                                   L.Dense(w, activation="relu"), L.Dense(1)], name="discriminator")
    gan = gn.models.GAN(generator, discriminator, latent_dim=args.latent, label_smoothing=args.label_smoothing,
                        d_steps=args.d_steps, seed=args.seed)

    def rate() -> object:
        return gn.schedules.ExponentialDecay(args.lr, args.half_life, 0.5) if args.half_life else args.lr

    gan.compile(d_optimizer=gn.optimizers.Adam(rate(), beta_1=0.5), g_optimizer=gn.optimizers.Adam(rate(), beta_1=0.5))
    report = Report(every=max(1, args.epochs // 10))
    start = time.perf_counter()
    gan.fit(ring(args.n, args.seed), epochs=args.epochs, batch_size=args.batch_size, seed=args.seed, verbose=0,
            callbacks=[report])
    seconds = time.perf_counter() - start
    result = {**coverage(gan.sample(10_000, seed=1)), **vars(args), "train_seconds": round(seconds, 1),
              "steps": args.epochs * -(-args.n // args.batch_size), "trace": report.rows}
    print(json.dumps({k: v for k, v in result.items() if k != "trace"}))
    if args.out:
        with open(args.out, "w") as handle:
            json.dump(result, handle, indent=2)


if __name__ == "__main__":
    main()

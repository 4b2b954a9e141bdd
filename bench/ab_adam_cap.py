"""The per-step cost of Adam's g^2 cap on W2 (small-batch MLP), interleaved in one process.

``python -m bench.ab_adam_cap``: W2's network trained one epoch at a time with ``Adam`` (capped g^2)
and with a subclass whose moment update is the uncapped one of before, alternately, 7 epochs each; it
prints the minimum and median epoch time of each and their ratio. Interleaving makes machine load hit
both alike, which an A/B across processes cannot promise on a shared machine.
"""

from __future__ import annotations

import time

import numpy as np

import glassnet as gn
from glassnet.averages import ewma_update


class UncappedAdam(gn.optimizers.Adam):
    """Adam as it was before the cap: v = b2 v + (1 - b2) g^2 with g^2 free to overflow."""

    def _update_moments(self, g, slot):  # type: ignore[no-untyped-def]
        m, v, scratch = slot("first_moment"), slot("second_moment"), slot("_scratch")
        ewma_update(m, g, self.beta_1, scratch)
        np.multiply(g, g, out=scratch)
        ewma_update(v, scratch, self.beta_2, scratch)
        return m, scratch


def _model(optimizer: gn.optimizers.Optimizer) -> gn.Sequential:
    L = gn.layers
    model = gn.Sequential([L.Input(shape=(20,)), L.Dense(64, activation="relu"), L.Dense(64, activation="relu"),
                           L.Dense(1, activation="sigmoid")])
    model.compile(optimizer=optimizer, loss="binary_crossentropy")
    return model


def main() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50_000, 20), dtype=np.float32)
    y = (x[:, :1] > 0).astype(np.float32)
    models = {"capped": _model(gn.optimizers.Adam(1e-3)), "uncapped": _model(UncappedAdam(1e-3))}
    times: dict[str, list[float]] = {name: [] for name in models}
    for model in models.values():
        model.fit(x[:2000], y[:2000], epochs=1, batch_size=32, verbose=0)  # warm-up
    for _ in range(7):
        for name, model in models.items():
            start = time.perf_counter()
            model.fit(x, y, epochs=1, batch_size=32, verbose=0)
            times[name].append(time.perf_counter() - start)
    for name, values in times.items():
        print(f"{name}: min {min(values):.3f} s, median {sorted(values)[3]:.3f} s")
    print(f"capped / uncapped: min {min(times['capped']) / min(times['uncapped']):.3f}")


if __name__ == "__main__":
    main()

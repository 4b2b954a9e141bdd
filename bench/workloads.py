"""The workloads of issues 7 (W1-W5), 12 (W6, W7: convnet) and 13 (W8, W8G: recurrent): shapes,
optimizers, data (float32, fixed seeds).

Each implementation (``impl_*.py``) reads the same ``Workload`` and the same arrays, so only the code
under test differs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MNIST = REPO.parent / "shared" / "data" / "mnist.npz"


@dataclass(frozen=True)
class Workload:
    key: str
    title: str
    n_in: int
    hidden: tuple[int, ...]
    n_out: int
    task: str  # "multiclass" (softmax CE) or "binary" (sigmoid BCE)
    optimizer: str  # "adam" or "sgd_momentum"
    learning_rate: float
    batch_size: int
    n_samples: int
    batchnorm_dropout: float | None = None  # W4: Dense, BatchNorm, ReLU, Dropout(rate) per hidden layer
    data: str = "synthetic"
    kind: str = "train"  # "train" or "inference"
    references: tuple[str, ...] = field(default=("torch", "torch_fused", "sklearn", "gemm"))
    model: str = "mlp"  # "mlp" (n_in, hidden, n_out) or "convnet" (Keras mnist_convnet on (n, 28, 28, 1) images)
    recurrent: str | None = None  # W8: "lstm" / "gru": n_in features per step, timesteps steps, one layer
    timesteps: int = 1
    # W9 (kind "gpt"): n_in = n_out = vocabulary, hidden = (d_model,), these give the rest of the decoder
    seq_len: int = 0
    n_heads: int = 0
    n_blocks: int = 0
    ff_dim: int = 0

    @property
    def layer_sizes(self) -> list[int]:
        return [self.n_in, *self.hidden, self.n_out]

    @property
    def features(self) -> int:
        """Width of one sample as stored (timesteps * n_in for a recurrent workload)."""
        return self.n_in * self.timesteps

    @property
    def steps(self) -> int:
        return -(-self.n_samples // self.batch_size)


WORKLOADS: dict[str, Workload] = {
    w.key: w
    for w in [
        Workload("W1", "mnist-mlp", 784, (256, 128), 10, "multiclass", "adam", 1e-3, 128, 60_000, data="mnist"),
        Workload("W2", "tabular-small", 20, (64, 64), 1, "binary", "adam", 1e-3, 32, 50_000),
        Workload("W3", "wide", 1024, (2048, 2048), 10, "multiclass", "sgd_momentum", 0.01, 512, 20_000),
        Workload(
            "W4",
            "deep-bn-dropout",
            784,
            (512,) * 6,
            10,
            "multiclass",
            "adam",
            1e-3,
            256,
            30_000,
            batchnorm_dropout=0.2,
            data="mnist",
            references=("torch", "torch_fused", "gemm"),
        ),
        Workload(
            "W5",
            "inference",
            784,
            (256, 128),
            10,
            "multiclass",
            "adam",
            1e-3,
            10_000,
            10_000,
            data="mnist",
            kind="inference",
            references=("torch",),
        ),
        # issue 12: Keras' mnist_convnet, Conv32-3 relu, MaxPool2, Conv64-3 relu, MaxPool2, Flatten,
        # Dropout 0.5, Dense 10 softmax (34,826 parameters)
        Workload("W6", "mnist-convnet", 784, (), 10, "multiclass", "adam", 1e-3, 128, 60_000, data="mnist",
                 references=("torch", "torch_fused", "gemm"), model="convnet"),
        Workload("W7", "convnet-inference", 784, (), 10, "multiclass", "adam", 1e-3, 10_000, 10_000,
                 data="mnist", kind="inference", references=("torch",), model="convnet"),
        # row-wise MNIST: each image as 28 steps of 28 pixels, LSTM(128) (or GRU(128)) then Dense(10)
        Workload("W8", "mnist-lstm", 28, (128,), 10, "multiclass", "adam", 1e-3, 128, 60_000, data="mnist",
                 references=("torch", "gemm"), recurrent="lstm", timesteps=28),
        Workload("W8G", "mnist-gru", 28, (128,), 10, "multiclass", "adam", 1e-3, 128, 60_000, data="mnist",
                 references=("torch", "gemm"), recurrent="gru", timesteps=28),
        # issue 14: a 2-layer pre-LN GPT (causal self-attention, GELU tanh form as in GPT-2, d = 128, 4 heads,
        # T = 64, vocabulary 65) on random tokens; 40 steps of batch 32
        Workload("W9", "gpt-train", 65, (128,), 65, "multiclass", "adam", 1e-3, 32, 40 * 32, data="tokens",
                 kind="gpt", references=("torch", "torch_fused", "gemm"), seq_len=64, n_heads=4, n_blocks=2,
                 ff_dim=512),
    ]
}
QUICK_SAMPLES = {"W1": 15_000, "W2": 12_500, "W3": 5_000, "W4": 7_680, "W5": 10_000, "W6": 7_680, "W7": 10_000,
                 "W8": 7_680, "W8G": 7_680, "W9": 15 * 32}


def scaled(w: Workload, quick: bool) -> Workload:
    """The workload, shortened for ``--quick`` (same shapes, fewer samples)."""
    if not quick or w.kind == "inference":
        return w
    from dataclasses import replace

    return replace(w, n_samples=QUICK_SAMPLES[w.key])


def load_data(w: Workload, seed: int = 0) -> tuple[np.ndarray, np.ndarray, str]:
    """(x float32, y, source): y int64 labels for multiclass, float32 (n, 1) in {0, 1} for binary.
    A "convnet" workload gets x as (n, 28, 28, 1) images (a view of the same rows).

    With ``BENCH_DATA_CACHE`` set (``bench.run`` does), the arrays are read from float32 ``.npy`` files
    written once by the parent, so no child's peak RSS includes a uint8 -> float32 conversion.
    """
    if w.model == "convnet":
        from dataclasses import replace

        x, y, source = load_data(replace(w, model="mlp"), seed)
        return x.reshape(len(x), 28, 28, 1), y, source
    cache = os.environ.get("BENCH_DATA_CACHE")
    if cache:
        stem = Path(cache) / f"{w.key}-{w.n_samples}-{seed}"
        if not stem.with_suffix(".x.npy").exists():
            x, y, source = _make_data(w, seed)
            np.save(stem.with_suffix(".x.npy"), x)
            np.save(stem.with_suffix(".y.npy"), y)
            stem.with_suffix(".src").write_text(source)
            del x, y
        return (
            np.load(stem.with_suffix(".x.npy")),
            np.load(stem.with_suffix(".y.npy")),
            stem.with_suffix(".src").read_text(),
        )
    return _make_data(w, seed)


def _make_data(w: Workload, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    if w.data == "tokens":  # x: (n, T) int64 tokens, y: the next token at every position
        tokens = np.random.default_rng(seed).integers(0, w.n_in, size=(w.n_samples, w.seq_len + 1))
        return tokens[:, :-1].copy(), tokens[:, 1:].copy(), "synthetic tokens"
    if w.data == "mnist" and MNIST.exists():
        with np.load(MNIST) as d:
            key = "x_test" if w.kind == "inference" else "x_train"
            x = d[key][: w.n_samples].reshape(-1, 784).astype(np.float32)
            y = d[key.replace("x", "y")][: w.n_samples].astype(np.int64)
        x *= np.float32(1 / 255)
        return x, y, "mnist"
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((w.n_samples, w.features), dtype=np.float32)
    if w.data == "mnist":  # same shapes and range as MNIST when the file is absent
        x = np.abs(x, out=x) * np.float32(0.3)
    teacher = rng.standard_normal((w.features, w.n_out), dtype=np.float32)
    scores = x @ teacher
    binary = w.task == "binary"
    y = (scores[:, :1] > 0).astype(np.float32) if binary else scores.argmax(axis=1).astype(np.int64)
    return x, y, "synthetic"

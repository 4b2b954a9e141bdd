"""PyTorch CPU eager, written as typical user code: tensor slicing, ``zero_grad(set_to_none=True)``.

``fused=True`` selects the fused optimizer kernels (``torch.optim.Adam(..., fused=True)``).
"""

from __future__ import annotations

import gc
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from bench.workloads import Workload


def build_convnet(w: Workload) -> nn.Sequential:
    """Keras' mnist_convnet in PyTorch's own layout (NCHW), as a PyTorch user writes it."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.5), nn.Linear(1600, w.n_out),
    )


def _nchw(w: Workload, x: np.ndarray) -> np.ndarray:
    """(n, 28, 28, 1) images as (n, 1, 28, 28): the same memory, since there is one channel."""
    return x.reshape(len(x), 1, 28, 28) if w.model == "convnet" else x


class RecurrentClassifier(nn.Module):
    """nn.LSTM / nn.GRU (batch_first) and a Linear head on the last step's output: typical user code."""

    def __init__(self, w: Workload) -> None:
        super().__init__()
        cell = {"lstm": nn.LSTM, "gru": nn.GRU}[w.recurrent or ""]
        self.rnn = cell(w.n_in, w.hidden[0], batch_first=True)
        self.head = nn.Linear(w.hidden[0], w.n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.head(out[:, -1])  # type: ignore[no-any-return]


class GPT(nn.Module):
    """W9: nn.Embedding + learned positions -> pre-LN causal nn.TransformerEncoderLayer blocks (GELU tanh form)
    -> LayerNorm -> Linear logits, as a user writes a small GPT in PyTorch."""

    def __init__(self, w: Workload) -> None:
        super().__init__()
        d = w.hidden[0]
        self.embedding = nn.Embedding(w.n_in, d)
        self.positions = nn.Parameter(torch.zeros(w.seq_len, d))
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(d, w.n_heads, w.ff_dim, dropout=0.0, batch_first=True, norm_first=True,
                                       activation=nn.GELU(approximate="tanh"))
            for _ in range(w.n_blocks))
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, w.n_out)
        self.register_buffer("causal", nn.Transformer.generate_square_subsequent_mask(w.seq_len))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        h = self.embedding(tokens) + self.positions
        for block in self.blocks:
            h = block(h, src_mask=self.causal, is_causal=True)
        return self.head(self.norm(h)).flatten(0, 1)


def build(w: Workload) -> nn.Module:
    if w.kind == "gpt":
        return GPT(w)
    if w.model == "convnet":
        return build_convnet(w)
    if w.recurrent is not None:
        return RecurrentClassifier(w)
    layers: list[nn.Module] = []
    sizes = w.layer_sizes
    for n_in, n_out in zip(sizes[:-2], sizes[1:-1]):
        layers.append(nn.Linear(n_in, n_out))
        if w.batchnorm_dropout is not None:
            layers += [nn.BatchNorm1d(n_out), nn.ReLU(), nn.Dropout(w.batchnorm_dropout)]
        else:
            layers.append(nn.ReLU())
    layers.append(nn.Linear(sizes[-2], sizes[-1]))
    return nn.Sequential(*layers)


def _optimizer(w: Workload, model: nn.Module, name: str, fused: bool) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(model.parameters(), lr=w.learning_rate, fused=fused or None)
    momentum = 0.9 if name == "sgd_momentum" else 0.0
    return torch.optim.SGD(model.parameters(), lr=w.learning_rate, momentum=momentum, fused=fused or None)


def _epoch(w: Workload, model: nn.Module, opt: Any, x: torch.Tensor, y: torch.Tensor) -> float:
    loss_fn = nn.BCEWithLogitsLoss() if w.task == "binary" else nn.CrossEntropyLoss()
    model.train()
    perm = torch.randperm(len(x))
    total = 0.0
    for start in range(0, len(x), w.batch_size):
        index = perm[start : start + w.batch_size]
        xb, yb = x[index], y[index]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), yb.flatten() if w.kind == "gpt" else yb)
        loss.backward()
        opt.step()
        total += loss.item() * len(xb)
    return total / len(x)


def train(w: Workload, x: np.ndarray, y: np.ndarray, optimizer: str, seed: int, fused: bool) -> dict[str, float]:
    torch.manual_seed(seed)
    if w.recurrent is not None:
        x = x.reshape(len(x), w.timesteps, w.n_in)
    xt, yt = torch.from_numpy(_nchw(w, x)), torch.from_numpy(y)
    warm = build(w)
    n = 4 * w.batch_size
    _epoch(w, warm, _optimizer(w, warm, optimizer, fused), xt[:n], yt[:n])
    del warm
    gc.collect()  # the same for every implementation: no warm-up model left in memory
    model = build(w)
    opt = _optimizer(w, model, optimizer, fused)
    start = time.perf_counter()
    loss = _epoch(w, model, opt, xt, yt)
    return {"epoch_s": time.perf_counter() - start, "final_loss": loss}


def infer(w: Workload, x: np.ndarray, repeats: int) -> dict[str, float]:
    torch.manual_seed(0)
    x = _nchw(w, x)
    model = build(w).eval()
    softmax = nn.Softmax(dim=1)
    with torch.inference_mode():
        for _ in range(20):
            softmax(model(torch.from_numpy(x[:1]))).numpy()
        times = []
        for i in range(repeats):
            sample = x[i % len(x) : i % len(x) + 1]
            start = time.perf_counter()
            softmax(model(torch.from_numpy(sample))).numpy()
            times.append(time.perf_counter() - start)
        xt = torch.from_numpy(x)
        softmax(model(xt))
        batch = []
        for _ in range(7):
            start = time.perf_counter()
            softmax(model(xt)).numpy()
            batch.append(time.perf_counter() - start)
    return {"latency_s": float(np.median(times)), "batch_s": float(np.median(batch))}

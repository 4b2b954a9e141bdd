"""The limit: only the matrix products one training step needs, with NumPy, into preallocated buffers.

Per step and layer: forward X @ W, weight gradient X.T @ dY, input gradient dY @ W.T (skipped for the
first layer, whose input gradient nobody needs; glassnet skips it too). Nothing else: no bias,
activation, loss, optimizer or batch gathering. Same shapes, same number of steps (last batch partial).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from bench.workloads import Workload


def gemm_step(weights: list[np.ndarray], grads: list[np.ndarray], acts: list[np.ndarray],
              deltas: list[np.ndarray]) -> Callable[[], None]:
    """One step's matrix products into the given buffers (acts[i]: layer i's input, deltas[i]: its gradient)."""

    def step() -> None:
        for i, W in enumerate(weights):
            np.matmul(acts[i], W, out=acts[i + 1])
        for i in range(len(weights) - 1, -1, -1):
            np.matmul(acts[i].T, deltas[i + 1], out=grads[i])
            if i > 0:
                np.matmul(deltas[i + 1], weights[i].T, out=deltas[i])

    return step


def convnet_step(m: int, rng: np.random.Generator) -> Callable[[], None]:
    """mnist_convnet's matrix products for a batch of m images, as an im2col implementation needs them.

    conv1 (patches (m 26 26, 9), kernel (9, 32)): forward and kernel gradient (no input gradient);
    conv2 (patches (m 11 11, 288), kernel (288, 64)): forward, kernel gradient, patch gradient;
    dense (m, 1600) x (1600, 10): forward, kernel gradient, input gradient.
    """
    shapes = [(m * 26 * 26, 9, 32), (m * 11 * 11, 288, 64), (m, 1600, 10)]
    mats = [
        [rng.standard_normal(s, dtype=np.float32) for s in ((rows, k), (k, f), (rows, f), (k, f), (rows, k))]
        for rows, k, f in shapes
    ]  # patches X, kernel W, output / output gradient Y, kernel gradient dW, patch gradient dX

    def step() -> None:
        for X, W, Y, _, _ in mats:
            np.matmul(X, W, out=Y)
        for i, (X, W, Y, dW, dX) in enumerate(mats):
            np.matmul(X.T, Y, out=dW)
            if i > 0:
                np.matmul(Y, W.T, out=dX)

    return step


def recurrent_gemm_step(w: Workload, m: int, rng: np.random.Generator) -> Callable[[], None]:
    """One step's products of W8: X @ kernel for all steps (one GEMM), T times h @ U forward and dZ @ U.T
    backward, then U's and the kernel's gradients as one GEMM each, and the Dense head's three."""
    steps, f, u, c = w.timesteps, w.n_in, w.hidden[0], w.n_out
    g = {"lstm": 4, "gru": 3}[w.recurrent or ""] * u

    def rand(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape, dtype=np.float32)

    x, kernel, rec, head = rand(steps * m, f), rand(f, g), rand(u, g), rand(u, c)
    h_all, gates, grad_z = rand(steps * m, u), np.empty((steps * m, g), np.float32), rand(steps * m, g)
    h, out, grad_out, grad_h = rand(m, u), np.empty((m, c), np.float32), rand(m, c), np.empty((m, u), np.float32)
    product, grad_prev = np.empty((m, g), np.float32), np.empty((m, u), np.float32)
    grads = [np.empty_like(kernel), np.empty_like(rec), np.empty_like(head)]

    def step() -> None:
        np.matmul(x, kernel, out=gates)
        for t in range(steps):
            np.matmul(h_all[t * m : (t + 1) * m], rec, out=product)
        np.matmul(h, head, out=out)
        np.matmul(h.T, grad_out, out=grads[2])
        np.matmul(grad_out, head.T, out=grad_h)
        for t in range(steps):
            np.matmul(grad_z[t * m : (t + 1) * m], rec.T, out=grad_prev)
        np.matmul(h_all.T, grad_z, out=grads[1])
        np.matmul(x.T, grad_z, out=grads[0])

    return step


def gpt_gemm_step(w: Workload, rng: np.random.Generator) -> Callable[[], None]:
    """W9's matrix products for one step, into preallocated float32 buffers. Rows R = batch * T.

    Forward and backward of every projection X @ W (X.T @ dY and dY @ W.T in backward): the one-hot
    embedding (no input gradient), per block the query/key/value projections (as one (E, 3E) product), the
    attention output, the two feed-forward layers; the vocabulary head. Per block and head the batched
    attention products Q K^T and P V forward, and dP = dO V^T, dV = P^T dO, dQ = dS K, dK = dS^T Q backward.
    """
    b, t, e, h, f, v = w.batch_size, w.seq_len, w.hidden[0], w.n_heads, w.ff_dim, w.n_in
    rows, d = b * t, e // h

    def r(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape, dtype=np.float32)

    # (input width, output width, input gradient needed) of every projection, in order
    dense = [(v, e, False)] + [(e, 3 * e, True), (e, e, True), (e, f, True), (f, e, True)] * w.n_blocks
    dense.append((e, v, True))
    bufs = [(r(rows, a), r(a, c), r(rows, c), r(a, c), r(rows, c), r(rows, a), grad) for a, c, grad in dense]
    q, k, vv, p = r(b, h, t, d), r(b, h, t, d), r(b, h, t, d), r(b, h, t, t)
    s_out, o_out, g_o, g_p, g_v, g_q, g_k = r(b, h, t, t), r(b, h, t, d), r(b, h, t, d), r(b, h, t, t), \
        r(b, h, t, d), r(b, h, t, d), r(b, h, t, d)

    def step() -> None:
        for x, weight, y, *_ in bufs:
            np.matmul(x, weight, out=y)
        for _ in range(w.n_blocks):
            np.matmul(q, k.transpose(0, 1, 3, 2), out=s_out)
            np.matmul(p, vv, out=o_out)
        for x, weight, _, g_w, g_y, g_x, grad in reversed(bufs):
            np.matmul(x.T, g_y, out=g_w)
            if grad:
                np.matmul(g_y, weight.T, out=g_x)
        for _ in range(w.n_blocks):
            np.matmul(g_o, vv.transpose(0, 1, 3, 2), out=g_p)
            np.matmul(p.transpose(0, 1, 3, 2), g_o, out=g_v)
            np.matmul(g_p, k, out=g_q)
            np.matmul(g_p.transpose(0, 1, 3, 2), q, out=g_k)

    return step


def train(w: Workload, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    if w.kind == "gpt":
        step = gpt_gemm_step(w, rng)
        for _ in range(3):
            step()
        start = time.perf_counter()
        for _ in range(w.steps):
            step()
        return {"epoch_s": time.perf_counter() - start}
    if w.recurrent is not None:
        return _time_steps(w, lambda m: recurrent_gemm_step(w, m, rng))
    if w.model == "convnet":
        full, last = divmod(w.n_samples, w.batch_size)
        step = convnet_step(w.batch_size, rng)
        for _ in range(3):
            step()
        tail = convnet_step(last, rng) if last else None
        start = time.perf_counter()
        for _ in range(full):
            step()
        if tail is not None:
            tail()
        return {"epoch_s": time.perf_counter() - start}
    sizes = w.layer_sizes
    weights = [rng.standard_normal((a, b), dtype=np.float32) * np.float32(0.05) for a, b in zip(sizes, sizes[1:])]
    grads = [np.empty_like(W) for W in weights]

    def buffers(m: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
        acts = [rng.standard_normal((m, s), dtype=np.float32) for s in sizes]
        deltas = [rng.standard_normal((m, s), dtype=np.float32) for s in sizes]
        return acts, deltas

    return _time_steps(w, lambda m: gemm_step(weights, grads, *buffers(m)))


def _time_steps(w: Workload, make: Callable[[int], Callable[[], None]]) -> dict[str, float]:
    """Time one epoch of steps: full batches, then the partial last one."""
    full, last = divmod(w.n_samples, w.batch_size)
    step = make(w.batch_size)
    for _ in range(3):
        step()
    tail = make(last) if last else None
    start = time.perf_counter()
    for _ in range(full):
        step()
    if tail is not None:
        tail()
    return {"epoch_s": time.perf_counter() - start}

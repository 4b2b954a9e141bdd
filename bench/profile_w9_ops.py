"""Where W9's training step spends its CPU time, per glassnet function: ``python -m bench.profile_w9_ops``.

Wraps the layer methods a W9 step runs (attention, softmax, LayerNorm, Dense, GELU, the blocks, the
optimizer) and ``np.matmul`` itself in timers, then fits W9's model for ``--steps`` steps. ``self`` is a
function's own CPU time without the wrapped functions it calls, so ``np.matmul``'s line is every matrix
product of the step and each other line is that function's elementwise NumPy work and Python. The timers
add a few microseconds per call. Use one BLAS thread (``OPENBLAS_NUM_THREADS=1``): CPU time then is the
work done.
"""

from __future__ import annotations

import argparse
import collections
import functools
import time
from typing import Any

import numpy as np

from bench import impl_glassnet
from bench.workloads import WORKLOADS, load_data
from glassnet import activations
from glassnet.layers import attention, core, normalization, positional, transformer
from glassnet.optimizers import base

inclusive: collections.Counter[str] = collections.Counter()
own: collections.Counter[str] = collections.Counter()
calls: collections.Counter[str] = collections.Counter()
_stack: list[float] = []


def _timed(label: str, fn: Any) -> Any:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.process_time()
        _stack.append(0.0)
        try:
            return fn(*args, **kwargs)
        finally:
            spent = time.process_time() - start
            inner = _stack.pop()
            inclusive[label] += spent
            own[label] += spent - inner
            calls[label] += 1
            if _stack:
                _stack[-1] += spent

    return wrapper


def _wrap(owner: Any, names: tuple[str, ...]) -> None:
    for name in names:
        fn = getattr(owner, name)
        wrapped = _timed(f"{getattr(owner, '__name__', owner)}.{name}", fn)
        if hasattr(fn, "_glassnet_wrapped"):
            wrapped._glassnet_wrapped = True
        setattr(owner, name, wrapped)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_w9_ops")
    parser.add_argument("--steps", type=int, default=12)
    args = parser.parse_args()
    np.matmul = _timed("np.matmul", np.matmul)  # every glassnet module calls it as np.matmul
    _wrap(attention, ("masked_softmax", "softmax_backward", "_mm"))
    _wrap(attention.MultiHeadAttention, ("attend", "attend_backward", "_fused_backward"))
    _wrap(normalization.LayerNormalization, ("forward", "backward"))
    _wrap(positional.PositionalEmbedding, ("forward", "backward"))
    _wrap(core.Dense, ("forward", "backward_preactivation"))
    _wrap(activations.GELU, ("forward_saving", "backward_into"))
    _wrap(transformer.TransformerDecoderBlock, ("forward", "backward"))
    _wrap(base.Optimizer, ("step",))
    w = WORKLOADS["W9"]
    x, y, _ = load_data(w)
    x = impl_glassnet.one_hot(x, w.n_in)
    model = impl_glassnet.build(w, w.optimizer)
    model.fit(x[: 4 * w.batch_size], y[: 4 * w.batch_size], batch_size=w.batch_size, verbose=0, seed=0)
    for counter in (inclusive, own, calls):
        counter.clear()
    start = time.process_time()
    model.fit(x[: args.steps * w.batch_size], y[: args.steps * w.batch_size], batch_size=w.batch_size,
              verbose=0, seed=0)
    step = (time.process_time() - start) / args.steps
    print(f"W9: {step * 1e3:.1f} ms of CPU per step ({args.steps} steps); per step, own and inclusive:")
    for label, value in own.most_common():
        print(f"  {label:<42} {value / args.steps * 1e3:7.2f} ms own {inclusive[label] / args.steps * 1e3:8.2f} "
              f"ms incl. {calls[label] / args.steps:4.0f} calls")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Run under ``mpiexec -n P`` by tests/test_distributed.py: one data-parallel training, weights to a file.

    python tests/distributed/worker.py CASE OUT.npz [--fail-on-rank R] [--bucket-bytes B]
        [--backup DIR [--kill-rank R --kill-step N]]

Every rank trains; rank 0 writes the weights (``weights.npz``: one array per parameter, by name) and the
history. ``--bucket-bytes B`` sums the gradient in buckets of >= B bytes. ``--backup DIR`` adds
``BackupAndRestore(DIR)`` (which resumes from DIR); ``--kill-rank R --kill-step N`` SIGKILLs rank R at the
start of its N-th step (counted from 1), as a crash would. CASE names a model and data set from
``cases.py``, which the test also trains in one process.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cases  # noqa: E402

import glassnet as gn  # noqa: E402


class FailOnRank(gn.callbacks.Callback):
    """Raise in epoch 1 on one rank only (callbacks run on rank 0, so this one is called by hand)."""


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("case")
    parser.add_argument("out")
    parser.add_argument("--fail-on-rank", type=int, default=None)
    parser.add_argument("--backup", default=None)
    parser.add_argument("--bucket-bytes", type=int, default=None)
    parser.add_argument("--kill-rank", type=int, default=None)
    parser.add_argument("--kill-step", type=int, default=None)
    args = parser.parse_args()
    comm = gn.distributed.init()
    model, x, y, fit_args = cases.make(args.case)
    if args.fail_on_rank is not None and comm.rank == args.fail_on_rank:
        real = model.compute_loss_and_gradients
        calls = []

        def failing(*a, **k):
            calls.append(1)
            if len(calls) == 3:
                raise RuntimeError(f"planted failure on rank {comm.rank}")
            return real(*a, **k)

        model.compute_loss_and_gradients = failing
    if args.kill_rank is not None and comm.rank == args.kill_rank:
        real_step = model.compute_loss_and_gradients
        steps = []

        def killed(*a, **k):
            steps.append(1)
            if len(steps) == args.kill_step:
                os.kill(os.getpid(), signal.SIGKILL)
            return real_step(*a, **k)

        model.compute_loss_and_gradients = killed
    callbacks = [gn.callbacks.BackupAndRestore(args.backup)] if args.backup else None
    history = gn.distributed.fit(model, x, y, verbose=0, callbacks=callbacks, bucket_bytes=args.bucket_bytes,
                                 **fit_args)
    if comm.rank == 0:
        np.savez(args.out, **{p.name: p.value for p in model.parameters()})
        Path(args.out).with_suffix(".json").write_text(
            json.dumps({"history": history.history, "distributed": history.distributed}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

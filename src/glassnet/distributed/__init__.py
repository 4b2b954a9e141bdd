"""Data-parallel training over processes and machines on MPI (mpi4py): ``glassnet.distributed``.

    mpiexec -n 4 python train.py            # each of the 4 processes runs the same script

    import glassnet as gn
    gn.distributed.init()                   # MPI under mpiexec, one process otherwise
    history = gn.distributed.fit(model, x, y, epochs=3, batch_size=128, seed=0)
    if gn.distributed.rank() == 0:
        model.save("model.glassnet")

``fit`` gives the weights one process gets with the same global ``batch_size`` and seed (up to the order
of floating-point sums): see ``glassnet.distributed.fit`` and docs/distributed.md. MPI needs the extra
``pip install "glassnet[mpi]"`` (mpi4py and the mpich wheel: no system MPI, no compiler); without it
``init("mpi")`` (or ``init()`` under ``mpiexec``) raises a ``MissingDependencyError`` naming the extra.
Importing this package does not import mpi4py (which would start MPI).
"""

from __future__ import annotations

from .comm import (
    Communicator,
    MPICommunicator,
    SerialCommunicator,
    init,
    launched_under_mpi,
    rank,
    report_and_abort,
    size,
    world,
)
from .fit import broadcast_state, evaluate, fit, shard_bounds

__all__ = [
    "Communicator",
    "MPICommunicator",
    "SerialCommunicator",
    "broadcast_state",
    "evaluate",
    "fit",
    "init",
    "launched_under_mpi",
    "rank",
    "report_and_abort",
    "shard_bounds",
    "size",
    "world",
]

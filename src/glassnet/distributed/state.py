"""What every rank must hold the same of: rank 0's weights, optimizer state, generators and history.

``broadcast_state`` sends the parameters (one ``Bcast`` of the flat buffer when the trainable ones are
packed) and the optimizer's state; ``share_run_state`` adds what a resumed run restored on rank 0
(``BackupAndRestore`` runs there only): the epoch to start at, the shuffling generator, glassnet's
default generator, each layer's generator (Dropout's) and the history so far.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from ..callbacks import History
from ..callbacks.backup import _generators
from ..errors import ConfigError
from ..layers.normalization import BatchNormalization
from .comm import Communicator


def broadcast_state(model: Any, comm: Communicator, root: int = 0, optimizer: bool = True) -> None:
    """Every parameter (trainable and not) and, with ``optimizer``, the optimizer's state (slots and
    step count) from ``root`` to all ranks."""
    pack = model._pack
    packed = pack is not None and pack.covers(model.parameters(trainable_only=True))
    if packed:
        comm.bcast_(pack.values, root)
    for p in model.parameters():
        if not (packed and p._pack is pack):
            value = np.ascontiguousarray(p.value)
            comm.bcast_(value, root)
            p.value = value
    if optimizer and comm.size > 1:
        state = comm.bcast_object(model.optimizer.get_state() if comm.rank == root else None, root)
        model.optimizer.set_state(state)


def share_run_state(model: Any, comm: Communicator, rng: np.random.Generator, history: History,
                    initial_epoch: int) -> int:
    """Rank 0's run on every rank before the first step: weights, optimizer state, the epoch to start at and,
    after a resume (``BackupAndRestore`` runs on rank 0 only), its generators and history. Returns the epoch."""
    broadcast_state(model, comm)
    if comm.size == 1:
        return initial_epoch
    generators = _generators(model)
    lead = comm.rank == 0
    shared = comm.bcast_object((
        initial_epoch, rng.bit_generator.state, backend.generator().bit_generator.state,
        {key: g.bit_generator.state for key, g in generators.items()}, history.history, history.epoch,
    ) if lead else None)
    initial_epoch, rng.bit_generator.state, backend.generator().bit_generator.state, states, logs, done = shared
    if set(states) != set(generators):
        raise ConfigError(f"distributed fit: rank 0's random generators {sorted(states)} are not rank "
                          f"{comm.rank}'s {sorted(generators)}; hint: build the same model on every rank")
    for key, generator in generators.items():
        generator.bit_generator.state = states[key]
    if not lead:
        history.history = {key: list(values) for key, values in logs.items()}
        history.epoch = list(done)
    return int(initial_epoch)


def follow_lead_settings(model: Any, comm: Communicator) -> None:
    """Rank 0's ``stop_training`` and learning rate on every rank (after callbacks that may change them)."""
    if comm.size == 1:
        return
    lr = model.optimizer.learning_rate
    stop, rate = comm.bcast_object((model.stop_training, None if callable(lr) else lr))
    model.stop_training = stop
    if rate is not None:
        model.optimizer.learning_rate = rate


def follow_lead_logs(model: Any, comm: Communicator, logs: dict[str, Any]) -> dict[str, Any]:
    """Rank 0's epoch logs (its callbacks may add to them), stop flag and learning rate, on every rank."""
    if comm.size == 1:
        return logs
    lr = model.optimizer.learning_rate
    lead = comm.rank == 0
    control = comm.bcast_object((logs, model.stop_training, None if callable(lr) else lr) if lead else None)
    if lead:
        return logs
    logs, model.stop_training, rate = control
    if rate is not None:
        model.optimizer.learning_rate = rate
    return dict(logs)


def average_moving_statistics(norms: list[BatchNormalization], comm: Communicator) -> None:
    """Per-rank BatchNormalization statistics: every rank keeps the mean of the ranks' moving averages."""
    for layer in norms:
        for p in (layer.moving_mean, layer.moving_variance):
            value = np.ascontiguousarray(p.value)
            comm.allreduce_(value)
            value *= value.dtype.type(1.0 / comm.size)
            p.value = value


__all__ = ["average_moving_statistics", "broadcast_state", "follow_lead_logs", "follow_lead_settings",
           "share_run_state"]

"""The callback protocol (Keras's): hooks called by ``fit`` at the start and end of training, epochs
and batches. ``self.model`` is set by ``set_model``; setting ``model.stop_training = True`` ends
``fit`` after the current epoch."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

Logs = dict[str, Any]


@dataclass
class FitState:
    """What ``fit`` shares with callbacks that save or restore a whole run (``BackupAndRestore``):
    the shuffling generator, the ``History`` being filled, and the epoch range."""

    rng: Any  # np.random.Generator that orders the samples of each epoch
    history: Any
    initial_epoch: int
    epochs: int
    callbacks: list[Any] = field(default_factory=list)  # every callback of the fit, set by CallbackList


class Callback:
    """Base class; override the hooks you need."""

    def __init__(self) -> None:
        self.model: Any = None
        self.params: dict[str, Any] = {}

    def set_model(self, model: Any) -> None:
        self.model = model

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params

    def on_train_begin(self, logs: Logs | None = None) -> None: ...

    def on_train_end(self, logs: Logs | None = None) -> None: ...

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None: ...

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None: ...

    def on_batch_begin(self, batch: int, logs: Logs | None = None) -> None: ...

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None: ...

    def restore_run(self, state: FitState) -> int | None:
        """Called by ``fit`` after ``on_train_begin``: restore a saved run, return the epoch to start at."""
        return None

    def after_epoch(self, epoch: int) -> None:
        """Called by ``fit`` after every callback's ``on_epoch_end`` (the epoch's state is then complete)."""


class CallbackList:
    """Calls every hook on each callback, in order."""

    def __init__(self, callbacks: Iterable[Callback], model: Any = None, params: dict[str, Any] | None = None):
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be gn.callbacks.Callback instances, got {type(cb).__name__}")
            if model is not None:
                cb.set_model(model)
            cb.set_params(params or {})
        self._batch_hooks = [
            cb for cb in self.callbacks
            if getattr(cb, "wants_batch_hooks", True)
            and (type(cb).on_batch_end is not Callback.on_batch_end
                 or type(cb).on_batch_begin is not Callback.on_batch_begin)
        ]

    def on_train_begin(self, logs: Logs | None = None) -> None:
        for cb in self.callbacks:
            cb.on_train_begin(logs)

    def on_train_end(self, logs: Logs | None = None) -> None:
        for cb in self.callbacks:
            cb.on_train_end(logs)

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        for cb in self.callbacks:
            cb.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        for cb in self.callbacks:
            cb.on_epoch_end(epoch, logs)

    def restore_run(self, state: FitState) -> int:
        """The epoch ``fit`` starts at: ``state.initial_epoch`` unless a callback restored a later one."""
        start = state.initial_epoch
        state.callbacks = list(self.callbacks)
        for cb in self.callbacks:
            restored = cb.restore_run(state)
            if restored is not None:
                start = max(start, restored)
        return start

    def after_epoch(self, epoch: int) -> None:
        for cb in self.callbacks:
            cb.after_epoch(epoch)

    @property
    def wants_batches(self) -> bool:
        """Whether any callback has batch hooks (so ``fit`` can skip building per-batch logs)."""
        return bool(self._batch_hooks)

    def on_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        for cb in self._batch_hooks:
            cb.on_batch_begin(batch, logs)

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        for cb in self._batch_hooks:
            cb.on_batch_end(batch, logs)

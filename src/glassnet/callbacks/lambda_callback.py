"""``LambdaCallback``: a callback made of plain functions (Keras' name and arguments)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import ConfigError
from .base import Callback, Logs

_HOOKS = ("on_epoch_begin", "on_epoch_end", "on_batch_begin", "on_batch_end", "on_train_begin", "on_train_end")


class LambdaCallback(Callback):
    """Call ``fn(epoch, logs)`` / ``fn(batch, logs)`` / ``fn(logs)`` at the matching hook.

    ``LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch, logs["loss"]))``. Hooks not given do
    nothing, and batch hooks cost nothing unless given (``fit`` skips them).
    """

    def __init__(
        self,
        on_epoch_begin: Callable[[int, Logs], Any] | None = None,
        on_epoch_end: Callable[[int, Logs], Any] | None = None,
        on_batch_begin: Callable[[int, Logs], Any] | None = None,
        on_batch_end: Callable[[int, Logs], Any] | None = None,
        on_train_begin: Callable[[Logs], Any] | None = None,
        on_train_end: Callable[[Logs], Any] | None = None,
    ) -> None:
        super().__init__()
        given = dict(zip(_HOOKS, (on_epoch_begin, on_epoch_end, on_batch_begin, on_batch_end, on_train_begin,
                                  on_train_end)))
        for name, fn in given.items():
            if fn is not None and not callable(fn):
                raise ConfigError(f"LambdaCallback: {name} must be a function, got {type(fn).__name__} {fn!r}")
        self.functions = {name: fn for name, fn in given.items() if fn is not None}
        self.wants_batch_hooks = "on_batch_begin" in self.functions or "on_batch_end" in self.functions

    def _call(self, name: str, *args: Any) -> None:
        fn = self.functions.get(name)
        if fn is not None:
            fn(*args)

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self._call("on_epoch_begin", epoch, logs or {})

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self._call("on_epoch_end", epoch, logs or {})

    def on_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        self._call("on_batch_begin", batch, logs or {})

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        self._call("on_batch_end", batch, logs or {})

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._call("on_train_begin", logs or {})

    def on_train_end(self, logs: Logs | None = None) -> None:
        self._call("on_train_end", logs or {})

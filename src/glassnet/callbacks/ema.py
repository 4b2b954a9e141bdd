"""``ExponentialMovingAverage``: a running average of a model's weights over the training steps.

After every batch, for every parameter w of the averaged model (its trainable weights and, with
``include_non_trainable``, its state such as BatchNormalization's moving statistics):

    a_0 = w_0 (the weights when training starts);   a_t = decay * a_{t-1} + (1 - decay) * w_t

Unrolled, a_t = decay^t w_0 + (1 - decay) sum_{k=1..t} decay^(t-k) w_k: the weights of about the last
1 / (1 - decay) steps, weighted by how recent they are. Starting at w_0 rather than at zero needs no
bias correction. Averaging a GAN generator's weights this way gives better samples than the last
iterate, whose weights circle around the equilibrium (Yazici et al., 2019, "The unusual effectiveness
of averaging in GAN training"; ``torch.optim.swa_utils.AveragedModel`` with ``use_buffers=True``
averages the buffers too, as ``include_non_trainable`` does here).

The averages are kept apart from the model: ``swapped()`` puts them into the model for a ``with``
block (to sample or evaluate) and puts the trained weights back afterwards. ``get_state`` /
``set_state`` make the averages part of a ``BackupAndRestore`` backup, so a resumed run continues the
same average.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from .._typing import Array
from ..averages import ewma_update
from ..errors import ConfigError
from .base import Callback, Logs


class ExponentialMovingAverage(Callback):
    """a_t = decay * a_{t-1} + (1 - decay) * w_t after every batch, a_0 = w_0 (module docstring).

    Args:
        decay: In [0, 1); 0.999 averages about the last 1,000 steps.
        attribute: Average ``getattr(model, attribute)`` (e.g. ``"generator"`` of a ``GAN``) instead of
            the model being fitted.
        include_non_trainable: Average the non-trainable parameters (moving statistics) too; else
            they are left as they are.
    """

    def __init__(self, decay: float = 0.999, attribute: str | None = None,
                 include_non_trainable: bool = True) -> None:
        super().__init__()
        if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0.0 <= float(decay) < 1.0:
            raise ConfigError(f"ExponentialMovingAverage: decay must be a number in [0, 1), got {decay!r}; "
                              "hint: 0.999 averages about the last 1,000 steps")
        self.decay = float(decay)
        self.attribute = attribute
        self.include_non_trainable = bool(include_non_trainable)
        self.averages: list[Array] | None = None
        self.updates = 0  # batches averaged so far (across resumes)
        self._scratch: list[Array] | None = None  # one buffer per average for ewma_update

    def target(self) -> Any:
        """The averaged model: the fitted model, or its ``attribute``."""
        if self.model is None:
            raise ConfigError("ExponentialMovingAverage: no model yet; hint: pass the callback to fit, or "
                              "call set_model(model) first")
        if self.attribute is None:
            return self.model
        if not hasattr(self.model, self.attribute):
            raise ConfigError(f"ExponentialMovingAverage: the model {type(self.model).__name__} has no attribute "
                              f"{self.attribute!r}; hint: attribute='generator' for a GAN")
        return getattr(self.model, self.attribute)

    def parameters(self) -> list[Any]:
        """The averaged parameters, in the model's order."""
        return list(self.target().parameters(trainable_only=not self.include_non_trainable))

    def on_train_begin(self, logs: Logs | None = None) -> None:
        params = self.parameters()
        if self.averages is not None:  # restored (set_state) or kept from an earlier fit: continue it
            self._check(params, [a.shape for a in self.averages])
            return
        self.averages = [np.array(p.value, copy=True) for p in params]
        self._scratch = None

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        if self.averages is None:
            self.on_train_begin()
        assert self.averages is not None
        if self._scratch is None:
            self._scratch = [np.empty_like(a) for a in self.averages]
        for average, param, scratch in zip(self.averages, self.parameters(), self._scratch):
            ewma_update(average, param.value, self.decay, scratch)  # in place, in the parameter's dtype
        self.updates += 1

    @contextlib.contextmanager
    def swapped(self) -> Iterator[Any]:
        """``with ema.swapped() as model:`` the averaged weights are in the model; the trained ones after."""
        if self.averages is None:
            raise ConfigError("ExponentialMovingAverage: nothing averaged yet; hint: fit with the callback first")
        params = self.parameters()
        self._check(params, [a.shape for a in self.averages])
        trained = [np.array(p.value, copy=True) for p in params]
        try:
            for param, average in zip(params, self.averages):
                param.value[...] = average
            yield self.target()
        finally:
            for param, value in zip(params, trained):
                param.value[...] = value

    def get_state(self) -> dict[str, Any]:
        """The averages (arrays) and the number of updates, for ``BackupAndRestore``."""
        return {"averages": list(self.averages or []), "updates": self.updates}

    def set_state(self, state: dict[str, Any]) -> None:
        averages = state.get("averages") or []
        self.averages = [np.array(a, copy=True) for a in averages] or None
        self._scratch = None
        self.updates = int(state.get("updates", 0))

    def _check(self, params: list[Any], shapes: list[tuple[int, ...]]) -> None:
        expected = [tuple(p.value.shape) for p in params]
        if [tuple(s) for s in shapes] != expected:
            raise ConfigError(f"ExponentialMovingAverage: the averages have shapes {shapes}, but the model's "
                              f"parameters have {expected}; hint: one callback (or state file) per model")


__all__ = ["ExponentialMovingAverage"]

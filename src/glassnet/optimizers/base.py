"""The ``Optimizer`` base class: clipping, learning rate (or schedule), step counting, state slots.

A subclass writes its rule once, in ``apply(w, g, slot, lr)`` on plain arrays. The base class calls it
either once per parameter or, when the parameters live in one ``ParameterPack`` (models pack theirs),
once on the whole flat buffer, which turns many small NumPy calls into a few large ones. State slots
(``slot("velocity")``) are zero-initialised arrays shaped like the parameter; ``state`` maps each
``Parameter`` object (by identity, never by name: two standalone layers may share a name) to its slots.
``get_state`` flattens it to ``"<parameter name>:<slot>" -> array`` for saving, which needs the names to
be unique at that moment (inside one model they are); ``set_state`` binds saved slots back by name.
A slot whose name starts with ``_`` (``slot("_scratch")``) is a reusable work buffer: it avoids
allocations on the hot path and is not part of the saved state.

An ``elementwise`` optimizer (each coordinate updated from its own values only, as in SGD, Adagrad,
RMSprop and Adam) runs over a large pack in blocks of ``block_size`` coordinates: every pass of the
rule then works on data still in the CPU cache, and ``_`` work buffers shrink to one block.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._typing import Array
from ..errors import ConfigError, NonFiniteError, StateError, check_positive
from ..parameter import Parameter, ParameterPack

SlotGetter = Callable[[str], Array]


def check_in_range(name: str, value: Any, low: float, high: float) -> float:
    value = float(value)
    if not low <= value < high:
        raise ConfigError(f"{name} must be in [{low}, {high}), got {value!r}")
    return value


class Optimizer:
    """Base class.

    Args:
        learning_rate: A float or a schedule (a callable of the step, see ``glassnet.schedules``).
        clipvalue: Clip each gradient entry to [-clipvalue, clipvalue].
        clipnorm: Rescale each parameter's gradient so its L2 norm is at most ``clipnorm``.
        global_clipnorm: Rescale all gradients together so their joint L2 norm is at most this.
    """

    name = "optimizer"
    elementwise = False  # True: apply() may run on any slice of the coordinates (see the module docstring)
    block_size = 1 << 16  # coordinates per block (256 KiB of float32 per array)

    def __init__(
        self,
        learning_rate: Any = 0.01,
        clipvalue: float | None = None,
        clipnorm: float | None = None,
        global_clipnorm: float | None = None,
    ) -> None:
        if not callable(learning_rate):
            learning_rate = check_positive("learning_rate", learning_rate, allow_zero=True)
        self.learning_rate = learning_rate
        self.clipvalue = None if clipvalue is None else check_positive("clipvalue", clipvalue)
        self.clipnorm = None if clipnorm is None else check_positive("clipnorm", clipnorm)
        self.global_clipnorm = (
            None if global_clipnorm is None else check_positive("global_clipnorm", global_clipnorm)
        )
        self.iterations = 0
        self.last_learning_rate: float | None = None
        self.state: dict[Parameter, dict[str, Array]] = {}
        self._restored: dict[str, dict[str, Array]] = {}  # set_state slots whose Parameter is not seen yet
        self._flat_slots: dict[tuple[ParameterPack, str], Array] = {}

    # -- the public step ----------------------------------------------------------------------------
    def current_learning_rate(self) -> float:
        """The learning rate the next step will use (a schedule is evaluated at ``iterations``)."""
        lr = self.learning_rate
        return float(lr(self.iterations)) if callable(lr) else float(lr)

    def step(self, params: Sequence[Parameter]) -> None:
        """Apply one update to every trainable parameter from its ``.grad``."""
        params = [p for p in params if p.trainable]
        if not params:
            return
        pack = params[0]._pack
        flat = pack is not None and pack.covers(params)
        self.clip_gradients(params, pack if flat else None)
        lr = self.current_learning_rate()
        if flat:
            assert pack is not None
            self._apply_flat(pack, lr)
        else:
            for p in params:
                self.apply(p.value, p.grad, lambda name, p=p: self.slot(p, name), lr)  # type: ignore[misc]
        self.iterations += 1
        self.last_learning_rate = lr

    def _apply_flat(self, pack: ParameterPack, lr: float) -> None:
        """``apply`` on the whole pack, or block by block for an elementwise rule on a large pack."""
        n, block = pack.values.size, self.block_size
        if not self.elementwise or n <= 4 * block:
            self.apply(pack.values, pack.grads, lambda name: self.flat_slot(pack, name), lr)
            return
        work: dict[str, Array] = {}

        def slots_of(lo: int, hi: int) -> SlotGetter:
            def slot(name: str) -> Array:
                if name.startswith("_"):  # a work buffer: one block suffices
                    if name not in work:
                        work[name] = np.empty(block, dtype=pack.values.dtype)
                    return work[name][: hi - lo]
                return self.flat_slot(pack, name)[lo:hi]

            return slot

        for lo in range(0, n, block):
            hi = min(lo + block, n)
            self.apply(pack.values[lo:hi], pack.grads[lo:hi], slots_of(lo, hi), lr)

    def apply(self, w: Array, g: Array, slot: SlotGetter, lr: float) -> None:
        """Update ``w`` in place from ``g``; ``slot(name)`` gives persistent state shaped like ``w``."""
        raise NotImplementedError

    # -- clipping -------------------------------------------------------------------------------
    def clip_gradients(self, params: Sequence[Parameter], pack: ParameterPack | None = None) -> None:
        """clipvalue, then per-parameter clipnorm, then global_clipnorm; in place, direction kept."""
        if self.clipvalue is not None:
            for g in [pack.grads] if pack is not None else [p.grad for p in params]:
                np.clip(g, -self.clipvalue, self.clipvalue, out=g)
        if self.clipnorm is not None:
            for p in params:
                norm = math.sqrt(float(np.vdot(p.grad, p.grad)))
                if not norm <= self.clipnorm:  # also NaN
                    _check_norm("clipnorm", norm, [p])
                    p.grad *= self.clipnorm / norm
        if self.global_clipnorm is not None:
            grads = [pack.grads] if pack is not None else [p.grad for p in params]
            norm = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
            if not norm <= self.global_clipnorm:
                _check_norm("global_clipnorm", norm, params)
                for g in grads:
                    g *= self.global_clipnorm / norm

    # -- state ----------------------------------------------------------------------------------
    def slot(self, param: Parameter, name: str) -> Array:
        """The state array ``name`` of ``param``, created as zeros on first use."""
        slots = self._slots_of(param)
        if name not in slots:
            slots[name] = np.zeros_like(param.value)
        return slots[name]

    def _slots_of(self, param: Parameter) -> dict[str, Array]:
        """``param``'s slots; state restored under its name by ``set_state`` is bound to it on first use."""
        slots = self.state.get(param)
        if slots is None:
            slots = self.state[param] = {}
            restored = self._restored.pop(param.name, {}) if param.name is not None else {}
            for sname, value in restored.items():
                slots[sname] = _restored_slot(param, sname, value)
        return slots

    def flat_slot(self, pack: ParameterPack, name: str) -> Array:
        """State ``name`` for a whole pack, as one flat array whose slices are the per-parameter slots."""
        buffer = self._flat_slots.get((pack, name))
        if buffer is None:
            buffer = np.zeros_like(pack.values)
            for p, offset in zip(pack.params, pack.offsets, strict=True):
                view = buffer[offset : offset + p.size].reshape(p.shape)
                slots = self._slots_of(p)
                existing = slots.get(name)
                if existing is not None:
                    view[...] = existing
                slots[name] = view
            self._flat_slots[(pack, name)] = buffer
        return buffer

    def __setstate__(self, state: dict[str, Any]) -> None:
        """After ``copy.deepcopy`` or unpickling, make the per-parameter slots views of the flat slots again
        (a copy turns views into independent arrays, which ``get_state`` would then report stale)."""
        self.__dict__.update(state)
        for (pack, name), buffer in self._flat_slots.items():
            for p, offset, shape in zip(pack.params, pack.offsets, pack.shapes, strict=True):
                view = buffer[offset : offset + int(np.prod(shape, dtype=np.int64))].reshape(shape)
                self.state.setdefault(p, {})[name] = view

    def get_state(self) -> dict[str, Array]:
        """Flat mapping ``"<param name>:<slot>" -> array`` plus ``"iterations"``, for saving.

        Raises ``StateError`` if two different parameters with saved state have the same name.
        """
        out: dict[str, Array] = {}
        owner: dict[str, Parameter] = {}
        for param, slots in self.state.items():
            saved = {k: v for k, v in slots.items() if not k.startswith("_")}
            if not saved:
                continue
            pname = param.name if param.name is not None else f"param_{id(param)}"
            if owner.setdefault(pname, param) is not param:
                raise StateError(
                    f"optimizer state: two different parameters are both named {pname!r}, so their state "
                    "cannot be saved by name; hint: give the layers distinct names (name=...) or put them "
                    "in one model, which makes the names unique"
                )
            out.update({f"{pname}:{sname}": arr.copy() for sname, arr in saved.items()})
        for pname, slots in self._restored.items():  # restored, not used yet: kept for the next save
            out.update({f"{pname}:{sname}": arr.copy() for sname, arr in slots.items()})
        out["iterations"] = np.array(self.iterations, dtype=np.int64)
        return out

    def set_state(self, state: dict[str, Array], params: Sequence[Parameter] | None = None) -> None:
        """Restore what ``get_state`` returned, binding each ``"<param name>:<slot>"`` by name.

        Slots go to the parameters given in ``params`` or already in ``state`` (copied into their existing
        arrays, so flat-pack views stay valid); without ``params``, a name not seen yet waits for the
        first step on a parameter of that name. With ``params``, a name none of them has is an error.
        """
        by_name: dict[str, Parameter | None] = {}
        for p in [*self.state, *(params or [])]:
            if p.name is not None:
                by_name[p.name] = p if by_name.get(p.name, p) is p else None  # None: ambiguous
        for key, value in state.items():
            if key == "iterations":
                self.iterations = int(value)
                continue
            pname, sname = key.rsplit(":", 1)
            if pname not in by_name:
                if params is not None:
                    raise StateError(f"optimizer state for {pname!r}: no such parameter; hint: the state was "
                                     f"saved from another architecture (parameters: {sorted(by_name)})")
                self._restored.setdefault(pname, {})[sname] = np.array(value)
                continue
            param = by_name[pname]
            if param is None:
                raise StateError(f"optimizer state for {pname!r}: several parameters have that name; "
                                 "hint: give the layers distinct names (name=...)")
            slots = self._slots_of(param)
            if sname in slots:
                slots[sname][...] = _restored_slot(param, sname, value)
            else:
                slots[sname] = _restored_slot(param, sname, value)

    # -- configuration ----------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        from .._registry import serialize

        lr = self.learning_rate
        if callable(lr) and not hasattr(lr, "get_config"):
            raise ConfigError(
                f"{type(self).__name__}: learning_rate {lr!r} is a plain function, which cannot be saved; "
                "hint: use a gn.schedules class (ExponentialDecay, CosineDecay, ...) or subclass "
                "gn.schedules.LearningRateSchedule with a get_config"
            )
        return {
            "learning_rate": serialize(lr) if callable(lr) else lr,
            "clipvalue": self.clipvalue,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Optimizer:
        config = dict(config)
        lr = config.get("learning_rate")
        if isinstance(lr, dict):
            from .. import schedules

            config["learning_rate"] = schedules.get(lr)
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if v is not None)
        return f"{type(self).__name__}({args})"


def _check_norm(what: str, norm: float, params: Sequence[Parameter]) -> None:
    """Refuse to clip a gradient whose norm is NaN or Inf: scaling cannot repair it (it would stay NaN)."""
    if math.isfinite(norm):
        return
    bad = [p.name for p in params if not np.isfinite(p.grad).all()]
    raise NonFiniteError(f"optimizer {what}: the gradient norm is {norm}, non-finite values in the gradient of "
                         f"{', '.join(map(repr, bad[:3]))}{' ...' if len(bad) > 3 else ''}; hint: lower the learning "
                         "rate, check the data for NaN/Inf, or stop such runs with callbacks.TerminateOnNaN")


def _restored_slot(param: Parameter, slot: str, value: Array) -> Array:
    """A saved slot as a new array in ``param``'s dtype; refuses one of the wrong shape."""
    value = np.asarray(value)
    if value.shape != param.shape:
        raise StateError(f"optimizer state {param.name!r}:{slot} has shape {value.shape}, the parameter "
                         f"{param.shape}; hint: the state was saved from another architecture")
    return np.array(value, dtype=param.dtype)

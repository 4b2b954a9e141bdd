"""Parameters: the arrays a model learns or keeps, each with its gradient.

A ``Parameter`` owns ``value`` and ``grad`` (same shape and dtype). Assigning to ``value`` copies into the
existing array, so views held elsewhere (a ``ParameterPack``'s flat buffer, an optimizer) stay valid.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._typing import Array
from .backend import floatx
from .errors import ShapeError


class Parameter:
    """A learnable (or stateful) array with its gradient.

    Args:
        value: Initial value; floating arrays keep their dtype, anything else becomes ``floatx()``.
        name: Unique name inside a model, e.g. ``"dense/kernel"``.
        trainable: Whether optimizers update it (moving statistics are non-trainable).
        regularizer: Optional penalty whose value is added to the loss and gradient to ``grad``.
    """

    def __init__(
        self,
        value: Any,
        name: str | None = None,
        trainable: bool = True,
        regularizer: Any = None,
    ) -> None:
        array = np.asarray(value)
        if not np.issubdtype(array.dtype, np.floating):
            array = array.astype(floatx())
        self._value: Array = np.array(array, copy=True)
        self._grad: Array | None = None  # zeros, allocated on first use (a packed model never needs it)
        self.name = name
        self.trainable = trainable
        self.regularizer = regularizer
        self._pack: ParameterPack | None = None

    @property
    def value(self) -> Array:
        return self._value

    @value.setter
    def value(self, new: Any) -> None:
        new = np.asarray(new)
        if new.shape != self._value.shape:
            raise ShapeError(
                f"parameter {self.name!r}: cannot assign a value of shape {new.shape} to one of shape "
                f"{self._value.shape}; hint: rebuild the layer to change its size"
            )
        self._value[...] = new

    @property
    def grad(self) -> Array:
        if self._grad is None:
            self._grad = np.zeros_like(self._value)
        return self._grad

    @grad.setter
    def grad(self, new: Any) -> None:
        self.grad[...] = new

    @property
    def shape(self) -> tuple[int, ...]:
        return self._value.shape

    @property
    def dtype(self) -> np.dtype[Any]:
        return self._value.dtype

    @property
    def size(self) -> int:
        return int(self._value.size)

    def zero_grad(self) -> None:
        """Set the gradient to zero in place."""
        self.grad.fill(0)

    # -- copying --------------------------------------------------------------------------------
    # ``copy.deepcopy`` and ``pickle`` copy a view as an independent array, so a packed parameter would
    # lose its link to the pack's flat buffers and the optimizer (which updates the flat buffer) would
    # no longer move it. A packed parameter therefore travels without its arrays; whichever of it and
    # its pack is restored last binds the views again (see ``ParameterPack.__setstate__``).
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        if self._pack is not None:
            del state["_value"], state["_grad"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        pack = self._pack
        if pack is not None and "values" in pack.__dict__:
            pack._bind(self)

    def __repr__(self) -> str:
        kind = "" if self.trainable else ", trainable=False"
        return f"Parameter(name={self.name!r}, shape={self.shape}, dtype={self.dtype.name}{kind})"


class ParameterPack:
    """Several parameters laid out in one flat ``values`` and one flat ``grads`` buffer.

    Each parameter's ``value`` and ``grad`` become views into the buffers, so an optimizer can update
    all of them in a few whole-buffer passes instead of one small pass per parameter.
    """

    def __init__(self, params: Sequence[Parameter]) -> None:
        self.params = list(params)
        dtypes = {p.dtype for p in self.params}
        if len(dtypes) > 1:
            raise ValueError(f"cannot pack parameters of different dtypes: {sorted(d.name for d in dtypes)}")
        dtype = dtypes.pop() if dtypes else np.dtype(floatx())
        total = sum(p.size for p in self.params)
        self.values: Array = np.empty(total, dtype=dtype)
        self.grads: Array = np.zeros(total, dtype=dtype)  # calloc: pages cost memory only once written
        self.offsets: list[int] = []
        self.shapes: list[tuple[int, ...]] = []
        offset = 0
        for p in self.params:
            n = p.size
            self.values[offset : offset + n] = p.value.ravel()
            if p._grad is not None:
                self.grads[offset : offset + n] = p._grad.ravel()
            self.offsets.append(offset)
            self.shapes.append(p.shape)
            p._pack = self
            self._bind(p, len(self.offsets) - 1)
            offset += n

    def _bind(self, param: Parameter, k: int | None = None) -> None:
        """Make ``param.value`` and ``param.grad`` views into the flat buffers (``k``: its index here)."""
        if k is None:
            k = next(i for i, p in enumerate(self.params) if p is param)
        lo, shape = self.offsets[k], self.shapes[k]
        hi = lo + int(np.prod(shape, dtype=np.int64))
        param._value = self.values[lo:hi].reshape(shape)
        param._grad = self.grads[lo:hi].reshape(shape)

    def __setstate__(self, state: dict[str, Any]) -> None:
        """After a copy or unpickling: re-bind the parameters that belong to this pack (or whose own state
        is not restored yet; ``Parameter.__setstate__`` re-binds those to their own pack)."""
        self.__dict__.update(state)
        for k, p in enumerate(self.params):
            if p.__dict__.get("_pack", self) is self:
                self._bind(p, k)

    def covers(self, params: Sequence[Parameter]) -> bool:
        """True if ``params`` are exactly this pack's parameters, in order, and still bound to it."""
        if len(params) != len(self.params):
            return False
        return all(a is b and a._pack is self for a, b in zip(params, self.params))


def pack_parameters(params: Sequence[Parameter]) -> ParameterPack | None:
    """Pack ``params`` into flat buffers if they share one dtype; return the pack or ``None``."""
    if not params or len({p.dtype for p in params}) != 1:
        return None
    return ParameterPack(params)

"""``Model``: a layer that can also be compiled, trained, evaluated, saved and summarized.

Subclasses (``Sequential`` now, graph models later) provide ``layers``, ``forward`` and
``_backward(grad, from_preactivation)``. A model is a ``Layer``, so a model can be a layer of another.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import numpy as np

from .. import losses, optimizers
from .. import metrics as metrics_module
from .._typing import Array
from ..callbacks import History
from ..errors import ConfigError, StateError
from ..layers.base import Layer
from ..layers.workspace import Workspace
from ..parameter import Parameter, ParameterPack, pack_parameters
from . import training


class Model(Layer):
    """Base class of models; ``Model(inputs=..., outputs=...)`` builds a graph model (``Functional``)."""

    # Whether ``fit`` lets layers reuse their arrays from batch to batch (``workspaces``). Off: measured
    # in one process, alternating blocks of steps (notes/issue-7.md), a step with reused buffers was
    # 4.4% slower on W4, 2.3% slower on W2 and the same on W1, because glibc hands the blocks that one
    # layer frees straight to the next layer, still in cache, while each layer's own buffers widen the
    # memory a step touches; on W2 the buffer look-up also costs more than the allocation.
    # ``evaluate`` and the batched ``predict`` still use workspaces.
    reuse_buffers_in_fit = False

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if cls is Model and (args or "inputs" in kwargs or "outputs" in kwargs):
            from .functional import Functional

            return super().__new__(Functional)
        return super().__new__(cls)

    def __init__(self, name: str | None = None) -> None:
        super().__init__(name=name)
        self._nested = False
        self.layers: list[Layer] = []
        self.optimizer: Any = None
        self.loss: losses.Loss | None = None
        self.metrics: list[metrics_module.Metric] = []
        self.stop_training = False
        self.history: History | None = None
        self._pack: ParameterPack | None = None
        self._fused = False
        self._trainable_params: list[Parameter] = []
        self._regularized: list[Parameter] = []
        self._session_first_trainable: int | None = None

    # -- structure -------------------------------------------------------------------------------
    @property
    def child_scope(self) -> str:
        """Prefix for the parameter names of this model's layers: none at top level, the model's name
        when it is itself a layer of another model (so names stay unique)."""
        return f"{self._scope}{self.name}/" if self._nested else ""

    def set_scope(self, scope: str) -> None:
        self._scope, self._nested = scope, True
        self._rename_parameters()

    def _rename_parameters(self) -> None:
        for layer in getattr(self, "layers", []):
            layer.set_scope(self.child_scope)

    def parameters(self, trainable_only: bool = False) -> list[Parameter]:
        """Every parameter, layer by layer, in creation order (kernel then bias for Dense)."""
        if trainable_only and not self.trainable:
            return []
        return [p for layer in self.layers for p in layer.parameters(trainable_only)]

    @property
    def output_activation(self) -> str | None:
        """Name of the activation applied last, if the last layer has one (used to fuse losses)."""
        return getattr(self.layers[-1], "output_activation", None) if self.layers else None

    def reseed(self, rng: np.random.Generator) -> None:
        for layer in self.layers:
            layer.reseed(np.random.default_rng(rng.integers(2**63)))

    def pack(self) -> None:
        """Lay all trainable parameters out in one flat buffer (see ``ParameterPack``)."""
        self._pack = pack_parameters(self.parameters(trainable_only=True))

    def backward(self, grad_output: Array) -> Array | None:
        return self._backward(grad_output, from_preactivation=False)

    def backward_preactivation(self, grad_z: Array) -> Array | None:
        return self._backward(grad_z, from_preactivation=True)

    def _backward(self, grad: Array, from_preactivation: bool) -> Array | None:
        raise NotImplementedError

    # -- compile ---------------------------------------------------------------------------------
    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, metrics: list[Any] | None = None) -> None:
        """Choose the optimizer, the loss and the metrics (by name or object)."""
        if loss is None:
            raise ConfigError("compile needs a loss, e.g. loss='sparse_categorical_crossentropy'; "
                              f"valid names: {', '.join(losses.names())}")
        self.optimizer = optimizers.get(optimizer)
        self.loss = losses.get(loss)
        self.metrics = [self._resolve_metric(m) for m in (metrics or [])]
        self.compiled_config = {"optimizer": optimizer, "loss": loss, "metrics": metrics}

    def _resolve_metric(self, identifier: Any) -> metrics_module.Metric:
        if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
            logits = getattr(self.loss, "from_logits", False) or isinstance(
                self.loss, (losses.Hinge, losses.Perceptron)
            )
            return metrics_module.Accuracy(threshold=0.0 if logits else 0.5)
        return metrics_module.get(identifier)

    def require_compiled(self, what: str) -> None:
        if self.loss is None or self.optimizer is None:
            raise StateError(f"call model.compile(optimizer=..., loss=...) before model.{what}()")

    # -- training ----------------------------------------------------------------------------------
    @contextmanager
    def workspaces(self) -> Iterator[None]:
        """Let layers reuse their output and gradient arrays from batch to batch inside this block.

        Only for loops that consume each batch's results before the next batch (``fit``, ``evaluate``,
        batched ``predict``); outside, layers return fresh arrays (see ``glassnet.layers.workspace``).
        Already-active workspaces (a ``predict`` inside ``fit``) are kept.
        """
        switched: list[Any] = [
            layer for layer in _leaf_layers(self)
            if hasattr(type(layer), "workspace") and getattr(layer, "workspace", None) is None
        ]
        for layer in switched:
            layer.workspace = Workspace()
        try:
            yield
        finally:
            for layer in switched:
                layer.workspace = None

    @contextmanager
    def training_session(self) -> Iterator[None]:
        """Settings that hold while ``fit`` runs: skip the unused input gradient, cache the parameter lists,
        reuse layer buffers across batches if ``reuse_buffers_in_fit``."""
        self._trainable_params = self.parameters(trainable_only=True)
        self._regularized = [p for p in self.parameters() if p.regularizer is not None]
        assert self.loss is not None
        fused = self.loss.fused_activation
        self._fused = fused is not None and self.output_activation == fused
        saved, self.input_grad_required = self.input_grad_required, False
        self._session_first_trainable = None
        first = getattr(self, "_first_trainable", None)
        self._session_first_trainable = first() if first is not None else None
        try:
            with self.workspaces() if self.reuse_buffers_in_fit else nullcontext():
                yield
        finally:
            self.input_grad_required = saved
            self._session_first_trainable = None

    def train_step(self, x: Array, y: Array) -> float:
        """One step: forward, loss, backward, regularization, optimizer update. Returns the loss."""
        assert self.loss is not None
        y_pred = self.forward(x, training=True)
        loss = self.loss(y, y_pred)
        for metric in self.metrics:
            metric.update(y, y_pred)
        if self._fused:
            self._backward(self.loss.fused_gradient(y, y_pred), from_preactivation=True)
        else:
            self._backward(self.loss.gradient(y, y_pred), from_preactivation=False)
        loss += self._add_regularization()
        self.optimizer.step(self._trainable_params)
        return loss

    def _add_regularization(self) -> float:
        """Add each penalty's gradient to ``.grad``; return the total penalty (weights before the update)."""
        penalty = 0.0
        for p in self._regularized:
            penalty += p.regularizer.penalty(p.value)
            p.regularizer.add_gradient(p.value, p.grad)
        return penalty

    def regularization_penalty(self) -> float:
        """Sum of every parameter's regularization penalty at the current weights."""
        return float(sum(p.regularizer.penalty(p.value) for p in self.parameters() if p.regularizer is not None))

    def fit(self, x: Any, y: Any, epochs: int = 1, batch_size: int | None = 32, validation_split: float = 0.0,
            validation_data: tuple[Any, Any] | None = None, shuffle: bool = True,
            callbacks: list[Any] | None = None, verbose: Any = 1, seed: int | None = None,
            initial_epoch: int = 0, diagnose: bool = False) -> History:
        """Train with mini-batch gradient descent; returns a ``History`` (``history.history[key]``).

        ``seed`` makes shuffling, dropout masks and (for an unbuilt model) the initial weights
        reproducible bit for bit. ``validation_split`` holds out the last fraction of the data.
        ``diagnose=True`` adds a ``GradientMonitor`` (record in ``history.diagnostics``) and prints the
        findings of ``glassnet.diagnostics.diagnose`` at the end.
        """
        return training.fit(self, x, y, epochs=epochs, batch_size=batch_size, validation_split=validation_split,
                            validation_data=validation_data, shuffle=shuffle, callbacks=callbacks,
                            verbose=verbose, seed=seed, initial_epoch=initial_epoch,
                            diagnose=diagnose)

    def evaluate(self, x: Any, y: Any, batch_size: int | None = 32, verbose: Any = 0) -> dict[str, float]:
        """``{"loss": ..., <metric>: ...}`` over the data, in inference mode."""
        return training.evaluate(self, x, y, batch_size=batch_size)

    def predict(self, x: Any, batch_size: int | None = None, verbose: Any = 0) -> Array:
        """Model outputs, computed batch by batch in inference mode.

        ``batch_size=None`` uses batches of ``training.PREDICT_BATCH`` (1024) rows: large enough for
        fast matrix products, small enough that the reused layer buffers stay in the CPU cache. The
        outputs do not depend on the batch size (beyond float rounding of the matrix products).
        """
        return training.predict(self, x, batch_size=batch_size)

    # -- inspection and persistence -----------------------------------------------------------
    def summary(self, print_fn: Any = print) -> None:
        """Print a Keras-like table: layer, output shape, parameter count, and totals."""
        from .summary import summary_text

        print_fn(summary_text(self))

    def save(self, path: Any, include_optimizer: bool = False) -> None:
        """Write the model (config.json + weights.npz in one zip), atomically."""
        from .saving import save_model

        save_model(self, path, include_optimizer=include_optimizer)

    def save_weights(self, path: Any) -> None:
        """Write the parameters only (see ``models.weights_file``)."""
        from .weights_file import save_weights

        save_weights(self, path)

    def load_weights(self, path: Any, allow_nonfinite: bool = False) -> None:
        """Set the parameters from ``save_weights`` (or ``save``) output for the same architecture."""
        from .weights_file import load_weights

        load_weights(self, path, allow_nonfinite=allow_nonfinite)

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """The layer called ``name``, or ``self.layers[index]`` (Keras)."""
        from .weights_file import get_layer

        return get_layer(self, name, index)  # type: ignore[no-any-return]


def _leaf_layers(model: Model) -> list[Layer]:
    """Every layer inside ``model``, nested models expanded."""
    out: list[Layer] = []
    for layer in model.layers:
        out += _leaf_layers(layer) if isinstance(layer, Model) else [layer]
    return out

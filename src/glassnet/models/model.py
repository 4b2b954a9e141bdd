"""``Model``: a layer that can also be compiled, trained, evaluated, saved and summarized.

Subclasses (``Sequential``, ``Functional``) provide ``layers``, ``forward``, ``_backward(grad,
from_preactivation)``, ``_output_layers()`` and ``_input_grad_needs(required)``. A model is a ``Layer``,
so a model can be a layer of another.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from .. import losses, optimizers
from .. import metrics as metrics_module
from .._typing import Array
from ..callbacks import History
from ..errors import ConfigError, StateError
from ..layers import base as layer_base
from ..layers.base import Layer
from ..layers.workspace import Workspace
from ..parameter import Parameter, ParameterPack, pack_parameters
from . import batch_api, steps, training, weighting
from .outputs import OutputHead, make_heads

# Model backward passes running now: a nested model called by its parent keeps its flags. A module global,
# not a class attribute: writing a class attribute (twice per step) invalidates Python's attribute cache for
# every Model type, which made every attribute lookup of a fit step slower (callgrind: type-cache misses, dict lookups).
_backward_depth = 0
_NO_TERMS: dict[str, float] = {}  # ``_last_added`` when no layer added a loss (shared, never written)


class Model(Layer):
    """Base class of models; ``Model(inputs=..., outputs=...)`` builds a graph model (``Functional``).

    **What ``fit`` differentiates** (``compute_loss_and_gradients``): for outputs k = 1..K with losses
    L_k and weights w_k (``compile(loss_weights=...)``, 1 by default) and parameters with penalties R_j,

        J = sum_k w_k L_k(y_k, f_k(x)) + sum_j R_j(theta_j)

    computed by a training-mode forward pass, one backward pass and each penalty's gradient.

    **Fused output head.** A loss that expects probabilities names the activation that produces them
    (``loss.fused_activation``: "sigmoid" for binary, "softmax" for the categorical cross-entropies).
    When output k's layer ends in that activation and can take the gradient before it
    (``layer.can_fuse(activation)``: it declares ``output_activation`` and implements
    ``backward_preactivation``), backward starts from the stable dL_k/dz = (p - y) / N instead of
    multiplying dL/dp (clipped at 1e-7) by the activation's Jacobian. The choice is made per output,
    the same way for ``Sequential`` and ``Functional``, when training starts; a layer without the hook
    (a custom layer, say) is simply not fused. The fused gradient is that of the unclipped loss
    (``loss.fused_value``, what ``from_logits=True`` computes); the reported loss clips p at 1e-7, as
    Keras does; the two differ only where p is within 1e-7 of 0 or 1.

    A probability loss on an output that ends in an explicit linear activation (raw scores) is refused
    with a ``ConfigError`` at ``compile`` and when training starts: it would train to a meaningless,
    near-zero loss. Use ``from_logits=True``, or end the output in a sigmoid/softmax.

    **Custom training steps** (Keras 3 style; docs/generative.md): a subclass overrides
    ``train_step(self, data) -> dict[str, float]`` (and optionally ``test_step``); ``fit`` calls it for
    every batch, ``data`` being ``(x, y)`` or ``x`` alone (``fit(x)`` without targets), and logs the
    batch-size-weighted epoch mean of every returned key. ``compile(**options)`` stores extra keyword
    arguments (``d_optimizer=...``) in ``compile_options`` and as attributes.
    """

    # The masks that reached the outputs in the last forward pass, one per output (None where an output
    # has none), or None when none did; set by Sequential/Functional, read by the loss (models.weighting)
    _output_masks: list[Array | None] | None = None

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
        # Set from outside the run (StopOnSignal: SIGINT/SIGTERM): stop after the current batch. Unlike
        # stop_training it is not the run's own decision, so a backup of a completed epoch still resumes.
        self.interrupted = False
        self.history: History | None = None
        self._pack: ParameterPack | None = None
        self._heads: list[OutputHead] = []
        self._several_outputs = False
        self._fused: list[bool] = []
        self._in_session = False
        self._trainable_params: list[Parameter] = []
        self._regularized: list[Parameter] = []
        self._session_first_trainable: int | None = None
        self._session_pack: Any = None  # the ParameterPack the trainable parameters fill, during fit
        self.compile_options: dict[str, Any] = {}
        self._compiled = False
        self._last_added: dict[str, float] = {}
        self._last_output_loss = 0.0

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

    # -- outputs -----------------------------------------------------------------------------------
    def _output_layers(self) -> list[Layer]:
        """The layer that computes each model output, in output order."""
        raise NotImplementedError

    @property
    def output_names(self) -> list[str]:
        """One name per output: the name of the layer computing it (Keras 3), used in logs and compile."""
        return [layer.name for layer in self._output_layers()] or [self.name]

    @property
    def output_activation(self) -> str | None:  # type: ignore[override]
        """Name of the activation applied last, for a model with one output whose layer declares it."""
        outputs = self._output_layers()
        return outputs[0].output_activation if len(outputs) == 1 else None

    def _can_fuse_output(self, k: int, activation: str) -> bool:
        """Whether output k may be fused with a loss whose ``fused_activation`` is ``activation``."""
        return self._output_layers()[k].can_fuse(activation)

    def can_fuse(self, activation: str) -> bool:
        """A model with one output is fused the way its output layer is (a model inside a model)."""
        return len(self._output_layers()) == 1 and self._can_fuse_output(0, activation)

    def _check_probability_outputs(self) -> None:
        """Refuse a probability loss on an output that ends in an explicit linear activation."""
        if not self._heads or len(self._heads) != len(self._output_layers()):
            return
        for head, layer in zip(self._heads, self._output_layers()):
            wanted = head.loss.fused_activation
            if wanted is not None and layer.output_activation == "linear":
                raise ConfigError(
                    f"model {self.name!r}: loss {head.loss.name!r} expects probabilities, but output {head.name!r} "
                    f"({type(layer).__name__}) is linear (raw scores), which trains to a meaningless near-zero loss; "
                    f"hint: give that layer activation={wanted!r}, or use {type(head.loss).__name__}(from_logits=True)"
                )

    def reseed(self, rng: np.random.Generator) -> None:
        for layer in self.layers:
            layer.reseed(np.random.default_rng(rng.integers(2**63)))

    def pack(self) -> None:
        """Lay all trainable parameters out in one flat buffer (see ``ParameterPack``)."""
        self._pack = pack_parameters(self.parameters(trainable_only=True))

    def backward(self, grad_output: Any) -> Any:
        """dL/dx from dL/dy (a list with one gradient per output for a model with several outputs); fills
        every parameter's ``.grad``, overwriting it.

        Called from outside (a custom ``train_step``, a script) it always returns dL/dx, even inside
        ``fit``, where the first trainable layer otherwise skips it; called by a parent model's backward
        it follows the ``require_input_grad`` flags the parent set.
        """
        return self._public_backward(grad_output, False)

    def backward_preactivation(self, grad_z: Array) -> Array | None:
        return self._public_backward(grad_z, True)

    def _public_backward(self, grad: Any, from_preactivation: bool) -> Any:
        if isinstance(grad, list) and len(self._output_layers()) > 1:  # several outputs: one flag each
            from_preactivation = [from_preactivation] * len(grad)  # type: ignore[assignment]
        if self.input_grad_required or _backward_depth:
            return self._run_backward(grad, from_preactivation)
        flags = [(layer, layer.input_grad_required) for layer in [self, *_all_layers(self)]]
        self.require_input_grad(True)
        try:
            return self._run_backward(grad, from_preactivation)
        finally:
            for layer, flag in flags:
                layer.input_grad_required = flag

    def _run_backward(self, grad: Any, from_preactivation: Any) -> Any:
        global _backward_depth
        _backward_depth += 1
        try:
            return self._backward(grad, from_preactivation)
        finally:
            _backward_depth -= 1

    def _backward(self, grad: Any, from_preactivation: Any) -> Any:
        """Backward from the output gradient(s); ``from_preactivation`` (one bool per output when there are
        several) says which output layers get dL/dz through ``backward_preactivation``."""
        raise NotImplementedError

    def _input_grad_needs(self, required: bool) -> list[tuple[Layer, bool]]:
        """For each layer: whether its input gradient is needed when the model's own is ``required``."""
        return [(layer, True) for layer in self.layers]

    def require_input_grad(self, required: bool) -> None:
        """Set ``input_grad_required`` here and on every layer (recursively): a layer fed only by the data
        of a model whose input gradient is not required may skip its own (``layers.base``)."""
        self.input_grad_required = required
        for layer, needed in self._input_grad_needs(required):
            layer.require_input_grad(needed)

    # -- compile ---------------------------------------------------------------------------------
    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, metrics: Any = None,
                loss_weights: Any = None, **options: Any) -> None:
        """Choose the optimizer, the loss(es) and the metrics (by name or object).

        With several outputs, ``loss`` and ``metrics`` may be one setting for every output, a list in
        output order or a dict by output name (``metrics={"head": ["accuracy"]}``); ``loss_weights`` (a
        list or dict, 1 by default) weighs each output's loss in the total (see ``glassnet.models.outputs``).

        A model with its own ``train_step`` may leave ``loss`` out and pass extra keyword ``options``:
        they are kept in ``compile_options`` and set as attributes (``self.d_optimizer``); an option whose
        name ends in ``_optimizer`` is resolved like ``optimizer`` (``"adam"`` or an object).
        """
        custom = not self._default_step()
        if loss is None and not custom:
            raise ConfigError("compile needs a loss, e.g. loss='sparse_categorical_crossentropy'; "
                              f"valid names: {', '.join(losses.names())}")
        if options and not custom:
            raise ConfigError(f"compile got unexpected option(s) {sorted(options)}; hint: extra options are for "
                              "models that override train_step (see docs/generative.md)")
        self._set_compile_options(options)
        self.optimizer = optimizers.get(optimizer) if optimizer is not None else None
        self._compiled = True
        if loss is None:
            self.loss, self.metrics, self._heads, self._several_outputs = None, [], [], False
            self.compiled_config = {"optimizer": optimizer, "loss": None, "metrics": metrics, **options}
            return
        self._heads = make_heads(self, loss, loss_weights, metrics)
        self._several_outputs = len(self._heads) > 1
        if self._several_outputs:
            self.loss = [head.loss for head in self._heads]  # type: ignore[assignment]
            self.metrics = [m for head in self._heads for m in (head.loss_mean, *head.metrics)]  # type: ignore[misc]
        else:
            self.loss, self.metrics = self._heads[0].loss, self._heads[0].metrics
        self._check_probability_outputs()
        self.compiled_config = {"optimizer": optimizer, "loss": loss, "metrics": metrics, "loss_weights": loss_weights,
                                **options}

    def _set_compile_options(self, options: dict[str, Any]) -> None:
        """Keep the extra compile options, each also as an attribute (never over one the model already has)."""
        for key in self.compile_options:
            self.__dict__.pop(key, None)
        resolved = {k: optimizers.get(v) if k.endswith("_optimizer") else v for k, v in options.items()}
        clash = sorted(k for k in resolved if hasattr(self, k))
        if clash:
            raise ConfigError(f"model {self.name!r}: compile option(s) {clash} would replace attributes of the "
                              "model; hint: choose other names")
        self.compile_options = resolved
        self.__dict__.update(resolved)

    def _default_step(self) -> bool:
        """True when ``train_step`` is the built-in one (so ``compile`` needs a loss)."""
        return type(self).train_step is Model.train_step

    def compile_settings(self) -> dict[str, Any]:
        """The loss(es), loss weights and metric names as saved with the model (``models.saving``)."""
        from .._registry import serialize

        if not self._several_outputs:
            return {"loss": serialize(self.loss), "metrics": [m.name for m in self.metrics]}
        return {"loss": [serialize(h.loss) for h in self._heads], "loss_weights": [h.weight for h in self._heads],
                "metrics": [[m if isinstance(m, str) else m.name for m in h.metric_ids] for h in self._heads]}

    def _resolve_metric(self, identifier: Any, loss: losses.Loss | None = None) -> metrics_module.Metric:
        loss = self.loss if loss is None else loss
        if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
            logits = getattr(loss, "from_logits", False) or isinstance(loss, (losses.Hinge, losses.Perceptron))
            return metrics_module.Accuracy(threshold=0.0 if logits else 0.5)
        return metrics_module.get(identifier)

    def require_compiled(self, what: str) -> None:
        custom_ready = not self._default_step() and getattr(self, "_compiled", False)
        if not custom_ready and (self.loss is None or self.optimizer is None):
            raise StateError(f"call model.compile(optimizer=..., loss=...) before model.{what}()")

    # -- training ----------------------------------------------------------------------------------
    @contextmanager
    def workspaces(self) -> Iterator[None]:
        """Let layers reuse their output arrays from batch to batch inside this block (inference only).

        Only for loops that consume each batch's outputs before the next batch (``evaluate``, batched
        ``predict``); ``fit`` allocates fresh arrays (measured faster, docs/performance.md). Outside,
        layers return fresh arrays (see ``glassnet.layers.workspace``). Already-active workspaces are kept.
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
        """Settings that hold while ``fit`` runs: the parameter lists, which outputs are fused, and no input
        gradient where nobody uses it (``require_input_grad(False)``); all restored afterwards."""
        if self._in_session:  # re-entered (a step computed by hand inside fit): keep the outer settings
            yield
            return
        self.require_compiled("fit")
        self._check_probability_outputs()
        self._trainable_params = self.parameters(trainable_only=True)
        pack = self._trainable_params[0]._pack if self._trainable_params else None
        self._session_pack = pack if pack is not None and pack.covers(self._trainable_params) else None
        self._regularized = [p for p in self.parameters() if p.regularizer is not None]
        self._fused = [
            head.loss.fused_activation is not None and self._can_fuse_output(k, head.loss.fused_activation)
            for k, head in enumerate(self._heads)
        ]
        flags = [(layer, layer.input_grad_required) for layer in [self, *_all_layers(self)]]
        first = getattr(self, "_first_trainable", None)
        self._session_first_trainable = first() if first is not None else None
        self.require_input_grad(False)
        self._enter_session()
        self._in_session = True
        try:
            yield
        finally:
            self._in_session = False
            self._exit_session()
            for layer, flag in flags:
                layer.input_grad_required = flag
            self._session_first_trainable = None

    def _enter_session(self) -> None:
        """Hook for subclasses: settings that hold while ``fit`` runs (see ``training_session``)."""

    def _exit_session(self) -> None:
        """Hook for subclasses: undo ``_enter_session``."""

    def train_step(self, data: Any) -> dict[str, float]:
        """One step on ``data = (x, y)``: ``compute_loss_and_gradients`` (updating the metrics), then the
        optimizer update. Returns ``{"loss": J, <added loss>: ..., <metric>: ...}`` (what ``fit`` logs).

        Override it for another kind of training (docs/generative.md); ``fit`` calls it for every batch.
        """
        if type(data) is tuple and len(data) == 2:
            x, y = data
        else:  # (x, y, sample_weight) from fit(sample_weight=...), or x alone
            x, y, w = steps.unpack_x_y_sample_weight(data)
            if w is not None and y is not None:
                return weighting.train_step(self, x, y, w)
        if y is None:
            raise ConfigError(f"model {self.name!r}: fit needs targets y for the built-in train_step; hint: pass "
                              "fit(x, y), or override train_step for training without targets")
        loss = self.compute_loss_and_gradients(x, y, update_metrics=True)
        if self._in_session:
            self.optimizer.step(self._trainable_params, self._session_pack)
        else:
            self.optimizer.step(self.parameters(trainable_only=True))
        logs = {"loss": loss, **self._last_added} if self._last_added else {"loss": loss}
        for metric in self.metrics:
            logs[metric.name] = metric.result()
        return logs

    def test_step(self, data: Any) -> dict[str, float]:
        """One evaluation batch, ``data = (x, y)``: inference forward, ``{"loss": sum_k w_k L_k, <metric>: ...}``
        (metrics updated). ``evaluate`` uses its own loop with the same result unless this is overridden."""
        x, y, w = steps.unpack_x_y_sample_weight(data)
        y_pred = self.forward(x, training=False)
        loss = (self._loss_value(y, y_pred, update_metrics=True) if w is None
                else weighting.weighted_loss(self, y, y_pred, w, update_metrics=True))
        return {"loss": loss, **{metric.name: metric.result() for metric in self.metrics}}

    def added_losses(self) -> dict[str, float]:
        """The terms layers added with ``add_loss`` in the last training forward pass, by name (e.g.
        ``{"kl_loss": ...}`` for a ``Sampling`` layer); part of the objective ``fit`` minimizes."""
        return steps.sum_terms(steps.loss_terms(self))

    def compute_loss_and_gradients(self, x: Any, y: Any, update_metrics: bool = False) -> float:
        """What ``fit`` differentiates, on one batch: training-mode forward, each output's (fused) loss
        times its weight, backward, each penalty's gradient added to ``.grad``. Returns J (class doc).

        ``x``/``y`` are batches as ``fit`` passes them (arrays of the model's dtype; targets prepared by the
        loss, one per output for several outputs). Outside ``fit`` it opens a ``training_session``.
        """
        if not self._in_session:
            with self.training_session():
                return self.compute_loss_and_gradients(x, y, update_metrics)
        y_pred = self.forward(x, training=True)
        if self._output_masks is not None:  # padded steps of a masked sequence output left out (weighting)
            return weighting.after_forward(self, y, y_pred, None, update_metrics)
        if self._several_outputs:
            loss = self._loss_value(y, y_pred, update_metrics)
            grad: Any = self._output_gradients(y, y_pred)
        else:  # _loss_value and _output_gradients for one output, written out: this runs once per batch
            if update_metrics:
                for metric in self.metrics:
                    metric.update(y, y_pred)
            loss = self.loss(y, y_pred)  # type: ignore[misc]
            grad = self.loss.fused_gradient(y, y_pred) if self._fused[0] else self.loss.gradient(y, y_pred)  # type: ignore[union-attr]
        self._last_output_loss = loss
        # add_loss terms (their gradients come from the layers' backward); none unless a layer ever added one
        terms = steps.loss_terms(self) if layer_base._LOSSES_ADDED else None
        self._last_added = steps.sum_terms(terms) if terms else _NO_TERMS
        self._run_backward(grad, self._fused if self._several_outputs else self._fused[0])
        penalty = self._add_regularization() if self._regularized else 0.0
        return loss + sum(value for _, value in terms) + penalty if terms else loss + penalty

    def training_objective(self, x: Any, y: Any) -> float:
        """J at the current weights, as the function whose gradient ``compute_loss_and_gradients`` gives:
        a fused output's loss is its unclipped ``fused_value``. (For gradient checks.)"""
        if not self._in_session:
            with self.training_session():
                return self.training_objective(x, y)
        y_pred = self.forward(x, training=True)
        ys, preds = (y, y_pred) if self._several_outputs else ([y], [y_pred])
        total = 0.0
        masks = self._output_masks or [None] * len(self._heads)
        for head, fused, y_k, p_k, m_k in zip(self._heads, self._fused, ys, preds, masks):
            if m_k is not None:
                total += head.weight * weighting.weighted_value(head.loss, y_k, p_k, None, m_k)
            else:
                total += head.weight * (head.loss.fused_value(y_k, p_k) if fused else head.loss(y_k, p_k))
        return total + sum(value for _, value in steps.loss_terms(self)) + self.regularization_penalty()

    def _loss_value(self, y: Any, y_pred: Any, update_metrics: bool) -> float:
        """sum_k w_k L_k as reported (one output: ``loss(y, y_pred)``); updates the metrics if asked."""
        if self._output_masks is not None:
            return weighting.weighted_loss(self, y, y_pred, None, update_metrics)
        if not self._several_outputs:
            if update_metrics:
                for metric in self.metrics:
                    metric.update(y, y_pred)
            return self.loss(y, y_pred)  # type: ignore[misc]
        total = 0.0
        for head, y_k, p_k in zip(self._heads, y, y_pred):
            value = head.loss(y_k, p_k)
            total += head.weight * value
            if update_metrics:
                head.update(y_k, p_k, value)
        return total

    def _output_gradients(self, y: list[Array], y_pred: list[Array]) -> list[Array]:
        """w_k dL_k/dy_k per output (dL_k/dz_k for a fused output)."""
        grads = []
        for head, fused, y_k, p_k in zip(self._heads, self._fused, y, y_pred):
            g = head.loss.fused_gradient(y_k, p_k) if fused else head.loss.gradient(y_k, p_k)
            grads.append(g * g.dtype.type(head.weight) if head.weight != 1.0 else g)
        return grads

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

    def fit(self, x: Any, y: Any = None, epochs: int = 1, batch_size: int | None = 32, validation_split: float = 0.0,
            validation_data: tuple[Any, ...] | None = None, shuffle: bool = True,
            callbacks: list[Any] | None = None, verbose: Any = 1, seed: int | None = None,
            initial_epoch: int = 0, diagnose: bool = False, sample_weight: Any = None, class_weight: Any = None,
            steps_per_epoch: int | None = None) -> History:
        """Train with mini-batch gradient descent; returns a ``History`` (``history.history[key]``).

        ``seed`` makes shuffling, dropout masks and (for an unbuilt model) the initial weights
        reproducible bit for bit. ``validation_split`` holds out the last fraction of the data.
        ``diagnose=True`` adds a ``GradientMonitor`` (record in ``history.diagnostics``) and prints the
        findings of ``glassnet.diagnostics.diagnose`` at the end. ``y=None`` is for models whose
        ``train_step`` needs no targets (autoencoders, GANs).

        As in Keras: ``sample_weight`` (n,) weighs each sample's loss, L = (1/N) sum_i w_i l_i per batch;
        ``class_weight={class: weight}`` weighs every sample of a class (the two multiply; metrics stay
        unweighted; see ``models.weighting``). ``steps_per_epoch`` ends each epoch after that many batches,
        the next epoch continuing through the data. ``verbose`` is 0, 1, 2 or "auto" (1). Every argument
        is checked before training starts (docs/reliability.md lists the messages).
        """
        return training.fit(self, x, y, epochs=epochs, batch_size=batch_size, validation_split=validation_split,
                            validation_data=validation_data, shuffle=shuffle, callbacks=callbacks,
                            verbose=verbose, seed=seed, initial_epoch=initial_epoch,
                            diagnose=diagnose, sample_weight=sample_weight, class_weight=class_weight,
                            steps_per_epoch=steps_per_epoch)

    def evaluate(self, x: Any, y: Any = None, batch_size: int | None = 32, verbose: Any = 0,
                 sample_weight: Any = None) -> dict[str, float]:
        """``{"loss": ..., <metric>: ...}`` over the data, in inference mode (several outputs: also
        ``<output>_loss`` and ``<output>_<metric>``, see ``glassnet.models.outputs``). ``verbose=1`` (or
        "auto") shows a progress bar; ``sample_weight`` weighs the loss as in ``fit``."""
        return training.evaluate(self, x, y, batch_size=batch_size, sample_weight=sample_weight, verbose=verbose)

    def predict(self, x: Any, batch_size: int | None = None, verbose: Any = 0) -> Any:
        """Model outputs (a list, one array per output, for several outputs), batch by batch in inference mode.

        ``batch_size=None`` uses batches of ``training.PREDICT_BATCH`` (1024) rows: large enough for
        fast matrix products, small enough that the reused layer buffers stay in the CPU cache. The
        outputs do not depend on the batch size (beyond float rounding of the matrix products).
        """
        return training.predict(self, x, batch_size=batch_size, verbose=verbose)

    def train_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None, class_weight: Any = None,
                       return_dict: bool = False) -> Any:
        """One gradient step on this batch (Keras 3): the loss (a float) when there are no metrics, else
        ``[loss, *metrics]``, or the dict of logs with ``return_dict=True``; metrics cover this batch only."""
        return batch_api.train_on_batch(self, x, y, sample_weight, class_weight, return_dict)

    def test_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None, return_dict: bool = False) -> Any:
        """Loss and metrics on this batch in inference mode, returned as ``train_on_batch`` does."""
        return batch_api.test_on_batch(self, x, y, sample_weight, return_dict)

    def predict_on_batch(self, x: Any) -> Any:
        """The outputs for this batch in one inference forward pass (no batching)."""
        return batch_api.predict_on_batch(self, x)

    def reset_metrics(self) -> None:
        """Reset every compiled metric's running state."""
        for metric in self.metrics:
            metric.reset()

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

    def restore_state(self, path: Any) -> None:
        """Weights and optimizer state from a file of ``save(path, include_optimizer=True)`` of this same
        architecture (what ``BackupAndRestore`` resumes from); non-finite weights are accepted."""
        from ..errors import ModelFileError
        from .saving import load_model

        loaded = load_model(path, allow_nonfinite=True)
        if [(p.name, p.value.shape) for p in loaded.parameters()] != [
                (p.name, p.value.shape) for p in self.parameters()]:
            raise ModelFileError(f"{path}: the file holds a different model; hint: one backup folder per run")
        for target, source in zip(self.parameters(), loaded.parameters()):
            target.value = source.value
        self.optimizer.set_state(loaded.optimizer.get_state())  # bound by name at the next step

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


def _all_layers(model: Model) -> list[Layer]:
    """Every layer inside ``model``, nested models included (with their own layers)."""
    out: list[Layer] = []
    for layer in model.layers:
        out.append(layer)
        if isinstance(layer, Model):
            out += _all_layers(layer)
    return out

"""``Functional``: a model that is a graph of layers (the Keras functional API).

    a = Input(shape=(4,), name="a");  b = Input(shape=(3,), name="b")
    h = Concatenate()([Dense(8, activation="relu")(a), b])
    model = gn.Model(inputs=[a, b], outputs=Dense(1)(h))      # gn.Model(...) builds a Functional
    two_heads = gn.Model(inputs=a, outputs=[Dense(3, activation="softmax")(h), Dense(1)(h)])

The graph is kept as a list of steps in topological order (every layer call after the calls that feed
it). ``forward`` runs them in order; ``backward`` runs them in reverse, and by the chain rule the
gradient of a tensor used by several calls is the sum of the gradients each call sends back:

    dL/dt = sum over consumers c of dL/dt|_c

The same sum holds for the parameters of a layer called several times (a shared layer): each call's
``backward`` overwrites ``.grad``, so the graph adds the earlier calls' gradients back. A shared layer's
cache is saved after each of its calls and put back before the matching backward. If the layer writes
its results into reused buffers (a ``workspace``, during ``evaluate``/``predict`` only), each call's
output is copied, because the next call of the same layer would overwrite it.

With several outputs, ``forward`` returns a list and ``backward`` takes one gradient per output; an
output whose tensor also feeds another layer receives the sum of both gradients.

A layer call with several outputs (``y, h, c = LSTM(8, return_state=True)(x)``) fills one slot per
output; its ``backward`` gets the list of their gradients, ``None`` for an output nothing used. A
recurrent layer called as ``layer(x, initial_state=[h, c])`` is a call on the list [x, h, c], so an
encoder's final states can start a decoder (seq2seq) and the decoder's backward hands dL/dh0, dL/dc0
back to the encoder.

Masks pass along the graph as they do in ``Sequential`` (``layers.masking``): an
``Embedding(mask_zero=True)`` call gives its output tensor the mask x != 0, a layer that uses masks
gets ``mask=`` with its input's, per-step layers hand it on, and any other layer reached by a mask
raises a ``ShapeError``. A call on several inputs gets the first input's mask (a recurrent layer with
initial states); a merge of masked tensors is refused.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._typing import Array
from ..errors import ConfigError, ShapeError
from ..layers.base import Layer
from ..layers.core import Input
from ..layers.masking import forward_masked, output_mask
from ..layers.symbolic import SymbolicTensor, as_tensor
from .model import Model


class _Step:
    """One layer call: where its inputs and its output live in the list of values."""

    def __init__(self, layer: Layer, in_slots: list[int], multi: bool, out_slots: list[int], n_inputs: int) -> None:
        self.layer = layer
        self.in_slots = in_slots
        self.multi = multi
        self.out_slots = out_slots  # one per output of the call (several for return_state)
        self.out_slot = out_slots[0]
        self.from_inputs_only = not multi and all(s < n_inputs for s in in_slots)
        self.shared = False
        self.within = _layers_within(layer)

    def reuses_buffers(self) -> bool:
        """True if a layer of this call writes into buffers reused across calls (a ``workspace``, inference)."""
        return any(getattr(layer, "workspace", None) is not None for layer in self.within)


def _step_mask(step: _Step, masks: dict[int, Array]) -> Array | None:
    """The mask a call receives: its input's; with several inputs (x and initial states of a recurrent
    layer, or a merge) that of the first input, and a merge of masked inputs is refused by
    ``forward_masked`` (it does not support masking)."""
    mask = masks.get(step.in_slots[0])
    if mask is None and step.multi and any(s in masks for s in step.in_slots):
        mask = next(masks[s] for s in step.in_slots if s in masks)
    return mask


def _layers_within(layer: Layer) -> list[Layer]:
    """The layer and, recursively, the layers of a model inside it (whose caches a shared call must keep)."""
    found = [layer]
    for sub in getattr(layer, "layers", []):
        found += _layers_within(sub)
    return found


class Functional(Model):
    """A model whose layers form a directed acyclic graph from ``inputs`` to ``outputs``.

    Args:
        inputs: An ``Input`` (or a list of them): the graph's inputs, in the order ``forward`` takes them.
        outputs: The symbolic tensor the model computes, or a list of them (several outputs, each named
            after the layer that computes it: ``output_names``).
        name: Model name.

    ``forward(x)`` takes one array for a single input, else a list with one array per input, and returns
    one array, or a list for several outputs; ``backward(g)`` takes g in the output's form and returns
    dL/dx in the input's form.
    """

    def __init__(self, inputs: Any, outputs: Any, name: str | None = None) -> None:
        super().__init__(name=name)
        self._list_inputs = isinstance(inputs, (list, tuple))
        self.inputs: list[Input] = self._collect_inputs(list(inputs) if self._list_inputs else [inputs])
        output_tensors = self._collect_outputs(outputs)
        nodes = self._sort(output_tensors)
        self._check_inputs(nodes)
        self.layers = []
        seen: set[int] = set()  # ids: linear time however many layers the graph has
        for node in nodes:
            if id(node.layer) not in seen:
                seen.add(id(node.layer))
                self.layers.append(node.layer)
        self._make_names_unique()
        slot_of: dict[int, int] = {id(inp.symbolic_tensor): k for k, inp in enumerate(self.inputs)}
        n = len(self.inputs)
        self._steps: list[_Step] = []
        self._nodes = nodes
        self._step_of: dict[int, int] = {}  # slot -> the step that computes it
        for k, node in enumerate(nodes):
            in_slots = [slot_of[id(t)] for t in node.inputs]
            first = n + sum(len(step.out_slots) for step in self._steps)
            out_slots = list(range(first, first + len(node.outputs)))
            self._steps.append(_Step(node.layer, in_slots, node.multi, out_slots, n))
            for slot, tensor in zip(out_slots, node.outputs, strict=True):
                slot_of[id(tensor)] = slot
                self._step_of[slot] = k
        self._n_slots = n + sum(len(step.out_slots) for step in self._steps)
        calls: dict[int, int] = {}
        for step in self._steps:
            calls[id(step.layer)] = calls.get(id(step.layer), 0) + 1
        for step in self._steps:
            step.shared = calls[id(step.layer)] > 1
        for layer in self.layers:
            layer.set_scope(self.child_scope)
        self._output_slots = [slot_of[id(t)] for t in output_tensors]
        consumed = [s for step in self._steps for s in step.in_slots]
        # an output also used inside the graph gets a second gradient, after its activation: no fusing
        self._output_used_inside = [slot in consumed for slot in self._output_slots]
        shapes = [inp.shape for inp in self.inputs]
        self.input_shape = shapes if len(shapes) > 1 else shapes[0]  # type: ignore[assignment]
        out_shapes = [tuple(t.shape) for t in output_tensors]
        self.output_shape = out_shapes if len(out_shapes) > 1 else out_shapes[0]  # type: ignore[assignment]
        self._output_names = _unique([self._steps[self._step_of[slot]].layer.name for slot in self._output_slots])
        self.built = True
        self.pack()

    # -- construction -------------------------------------------------------------------------------
    def _collect_inputs(self, items: list[Any]) -> list[Input]:
        if not items:
            raise ConfigError(f"model {self.name!r}: inputs is empty; hint: pass Input(shape=...) objects")
        found: list[Input] = []
        for k, item in enumerate(items):
            tensor = as_tensor(item)
            if tensor is None or tensor.node is not None:
                what = type(item).__name__ if tensor is None else f"the output of layer {tensor.name!r}"
                raise ConfigError(f"model {self.name!r}: inputs[{k}] must be an Input(shape=...), got {what}; "
                                  "hint: a graph starts at Input layers")
            if any(tensor.source is seen for seen in found):
                raise ConfigError(f"model {self.name!r}: input {tensor.source.name!r} is listed twice in inputs")
            found.append(tensor.source)
        return found

    def _collect_outputs(self, outputs: Any) -> list[SymbolicTensor]:
        items = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
        if not items:
            raise ConfigError(f"model {self.name!r}: outputs is empty; hint: pass the tensor(s) the model computes")
        found: list[SymbolicTensor] = []
        for k, item in enumerate(items):
            tensor = as_tensor(item)
            if tensor is None:
                raise ConfigError(f"model {self.name!r}: outputs[{k}] must be a symbolic tensor (a layer called on "
                                  f"an Input), got {type(item).__name__}")
            if tensor.node is None:
                raise ConfigError(f"model {self.name!r}: output {k} is the Input {tensor.name!r} itself; hint: call "
                                  "at least one layer on it")
            if any(tensor is seen for seen in found):
                raise ConfigError(f"model {self.name!r}: the output of layer {tensor.name!r} is listed twice in "
                                  "outputs")
            found.append(tensor)
        return found

    @staticmethod
    def _sort(outputs: list[SymbolicTensor]) -> list[Any]:
        """The nodes the outputs depend on, each after the nodes that feed it (depth-first post-order)."""
        order: list[Any] = []
        done: set[int] = set()
        stack: list[tuple[SymbolicTensor, bool]] = [(t, False) for t in reversed(outputs)]
        while stack:
            tensor, expanded = stack.pop()
            node = tensor.node
            if node is None or id(node) in done:
                continue
            if expanded:
                done.add(id(node))
                order.append(node)
                continue
            stack.append((tensor, True))
            stack.extend((t, False) for t in reversed(node.inputs))
        return order

    def _check_inputs(self, nodes: list[Any]) -> None:
        reached = [t.source for node in nodes for t in node.inputs if t.node is None]
        for inp in reached:
            if not any(inp is declared for declared in self.inputs):
                raise ConfigError(f"model {self.name!r}: the output depends on Input {inp.name!r}, which is not "
                                  f"in inputs {[i.name for i in self.inputs]}; hint: add it to inputs=[...]")
        for inp in self.inputs:
            if not any(inp is r for r in reached):
                raise ConfigError(f"model {self.name!r}: the output does not depend on input {inp.name!r}; hint: "
                                  "connect it to the graph or remove it from inputs")

    def _make_names_unique(self) -> None:
        taken: set[str] = set()
        for layer in [*self.inputs, *self.layers]:
            base, k = layer.name, 0
            while layer.name in taken:
                k += 1
                layer.name = f"{base}_{k}"
            taken.add(layer.name)

    # -- computing ---------------------------------------------------------------------------------
    def build(self, input_shape: Any) -> None:
        """A graph model is built when it is created; this only checks that the shapes agree."""
        if _as_shapes(input_shape) != _as_shapes(self.input_shape):
            raise ShapeError(f"model {self.name!r} was built for inputs {self.input_shape} but receives "
                             f"{input_shape}")

    def compute_output_shape(self, input_shape: Any) -> Any:
        return self.output_shape

    @property
    def takes_input_list(self) -> bool:  # type: ignore[override]  # computed here, a class attribute on Layer
        """True when ``fit``/``predict`` take x as a list (several inputs, or ``inputs=[a]`` given as a list)."""
        return len(self.inputs) > 1 or self._list_inputs

    def _output_layers(self) -> list[Layer]:
        return [self._steps[self._step_of[slot]].layer for slot in self._output_slots]

    @property
    def output_names(self) -> list[str]:
        return list(self._output_names)

    def _can_fuse_output(self, k: int, activation: str) -> bool:
        return not self._output_used_inside[k] and self._output_layers()[k].can_fuse(activation)

    def _input_grad_needs(self, required: bool) -> list[tuple[Layer, bool]]:
        """A layer needs its input gradient unless every call of it takes only graph inputs (and the
        model's own input gradient is not required)."""
        return [(layer, required or any(not s.from_inputs_only for s in self._steps if s.layer is layer))
                for layer in self.layers]

    def _input_list(self, x: Any) -> list[Array]:
        """x as one array per input, each checked against its Input's shape."""
        n = len(self.inputs)
        if isinstance(x, (list, tuple)):
            xs = list(x)
        elif n == 1:
            xs = [x]
        else:
            raise ShapeError(f"model {self.name!r} takes {n} inputs {[i.name for i in self.inputs]}, got one "
                             f"{type(x).__name__}; hint: pass a list, x=[x_{self.inputs[0].name}, ...]")
        if len(xs) != n:
            raise ShapeError(f"model {self.name!r} takes {n} input(s) {[i.name for i in self.inputs]}, got "
                             f"{len(xs)}; hint: pass one array per input, in that order")
        arrays = [np.asarray(item) for item in xs]
        for inp, arr in zip(self.inputs, arrays):
            if arr.ndim < 1 or arr.shape[1:] != inp.shape:
                raise ShapeError(f"model {self.name!r}: input {inp.name!r} expects shape (batch, "
                                 f"{', '.join(map(str, inp.shape))}), got {arr.shape}; hint: inputs are taken in "
                                 f"the order {[i.name for i in self.inputs]}")
        if len({len(arr) for arr in arrays}) > 1:
            raise ShapeError(f"model {self.name!r}: inputs have different numbers of samples "
                             f"{dict(zip([i.name for i in self.inputs], [len(a) for a in arrays]))}")
        return arrays

    def check_input(self, x: Any) -> None:
        self._input_list(x)

    def forward(self, x: Any, training: bool = False) -> Any:
        """Run the layer calls in topological order; a shared layer's cache is saved after each call."""
        values: list[Any] = [*(x if isinstance(x, list) else [x]), *([None] * (self._n_slots - len(self.inputs)))]
        saved: dict[int, list[tuple[Layer, dict[str, Any]]]] = {}
        masks: dict[int, Array] = {}  # slot -> its (batch, timesteps) mask, as Sequential passes them on
        for k, step in enumerate(self._steps):
            args = [values[s] for s in step.in_slots] if step.multi else values[step.in_slots[0]]
            mask = _step_mask(step, masks) if masks else None
            if mask is None:
                out = step.layer.forward(args, training)  # type: ignore[arg-type]
            else:
                out = forward_masked(step.layer, args, mask, training)
            make_mask = getattr(step.layer, "compute_mask", None)
            new_mask = make_mask(args, mask) if make_mask is not None else mask
            if new_mask is not None:
                masks[step.out_slot] = new_mask
            if step.shared:
                if step.reuses_buffers():
                    out = out.copy()
                if training:
                    saved[k] = [(layer, dict(layer.cache)) for layer in step.within]
            if len(step.out_slots) > 1:
                values[step.out_slots[0] : step.out_slots[-1] + 1] = out
            else:
                values[step.out_slot] = out
        self.cache = {"saved": saved} if training else {}
        outs = [output_mask(values[s], masks.get(s)) for s in self._output_slots] if masks else None
        self._output_masks = outs if outs is not None and any(m is not None for m in outs) else None
        if len(self._output_slots) == 1:
            return values[self._output_slots[0]]
        return [values[s] for s in self._output_slots]

    def _backward(self, grad: Any, from_preactivation: Any) -> Any:
        """Reverse topological order; gradients of a tensor (and of a shared layer's parameters) add up."""
        saved = self.read_cache("saved")
        n = len(self.inputs)
        grads: list[Any] = [None] * self._n_slots
        several = len(self._output_slots) > 1
        fused_steps: set[int] = set()
        for slot, g, fused in zip(self._output_slots, grad if several else [grad],
                                  from_preactivation if several else [from_preactivation]):
            grads[slot] = g if grads[slot] is None else grads[slot] + g  # an output that also feeds a layer
            if fused:
                fused_steps.add(self._step_of[slot])
        called: set[int] = set()
        for k in range(len(self._steps) - 1, -1, -1):
            step = self._steps[k]
            layer = step.layer
            g_out: Any = [grads[s] for s in step.out_slots] if len(step.out_slots) > 1 else grads[step.out_slot]
            for s in step.out_slots:
                grads[s] = None
            for sub, cache in saved.get(k, []):
                sub.cache = cache
            earlier = [p.grad.copy() for p in layer.parameters()] if id(layer) in called else None
            called.add(id(layer))
            result = layer.backward_preactivation(g_out) if k in fused_steps else layer.backward(g_out)
            if earlier is not None:
                for p, g_earlier in zip(layer.parameters(), earlier):
                    p.grad += g_earlier  # in place: .grad may be a view into the model's flat pack
            for slot, g_in in zip(step.in_slots, result if step.multi else [result]):  # type: ignore[arg-type]
                if g_in is not None:
                    grads[slot] = g_in if grads[slot] is None else grads[slot] + g_in
        if not self.input_grad_required:
            return None
        input_grads = grads[:n]
        return input_grads if self.takes_input_list else input_grads[0]

    # -- inspection and persistence ------------------------------------------------------------
    def summary(self, print_fn: Any = print) -> None:
        """Layer, output shape, parameter count and the tensors each layer is connected to."""
        from .functional_summary import functional_summary_text

        print_fn(functional_summary_text(self))

    def connections(self) -> list[tuple[Layer, list[list[str]]]]:
        """For each layer (inputs first): per call, the names of the layers whose outputs it took."""
        names = [inp.name for inp in self.inputs]
        for step in self._steps:  # an output of a call with several is named by its index: "lstm[1]"
            several = len(step.out_slots) > 1
            names += [f"{step.layer.name}[{k}]" if several else step.layer.name for k in range(len(step.out_slots))]
        rows: list[tuple[Layer, list[list[str]]]] = [(inp, []) for inp in self.inputs]
        for layer in self.layers:
            calls = [[names[s] for s in step.in_slots] for step in self._steps if step.layer is layer]
            rows.append((layer, calls))
        return rows

    def get_config(self) -> dict[str, Any]:
        """Inputs, layer configs, and the calls: each as the layer name and ``[layer, call index]`` refs
        (``[layer, call index, output index]`` for an output of a call with several)."""
        from ..layers import serialize_layer

        refs = [[inp.name, 0] for inp in self.inputs]
        count: dict[int, int] = {}
        nodes = []
        for step in self._steps:
            index = count.get(id(step.layer), 0)
            count[id(step.layer)] = index + 1
            nodes.append({"layer": step.layer.name, "inputs": [refs[s] for s in step.in_slots], "multi": step.multi})
            if len(step.out_slots) > 1:
                refs += [[step.layer.name, index, k] for k in range(len(step.out_slots))]
            else:
                refs.append([step.layer.name, index])
        return {
            "name": self.name,
            "inputs": [{"name": inp.name, "shape": list(inp.shape)} for inp in self.inputs],
            "list_inputs": self._list_inputs,
            "layers": [serialize_layer(layer) for layer in self.layers],
            "nodes": nodes,
            **({"output": refs[self._output_slots[0]]} if len(self._output_slots) == 1
               else {"outputs": [refs[s] for s in self._output_slots]}),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Functional:
        """Rebuild the graph: make the inputs and layers, then replay the calls in their saved order."""
        from ..layers import deserialize_layer

        try:
            inputs = [Input(shape=tuple(spec["shape"]), name=spec["name"]) for spec in config["inputs"]]
            layers = {}
            for layer_config in config["layers"]:
                layer = deserialize_layer(layer_config)
                layers[layer.name] = layer
            tensors: dict[tuple[str, int, int], Any] = {(inp.name, 0, 0): inp.symbolic_tensor for inp in inputs}
            count: dict[str, int] = {}
            for node in config["nodes"]:
                args = [tensors[_ref_key(ref)] for ref in node["inputs"]]
                layer = layers[node["layer"]]
                out = layer(args if node["multi"] else args[0])
                index = count.get(node["layer"], 0)
                for k, tensor in enumerate(out if isinstance(out, list) else [out]):
                    tensors[(node["layer"], index, k)] = tensor
                count[node["layer"]] = index + 1
            refs = config["outputs"] if "outputs" in config else [config["output"]]
            outputs = [tensors[_ref_key(ref)] for ref in refs]
        except (KeyError, IndexError, TypeError) as exc:
            raise ConfigError(f"graph model config is incomplete or inconsistent ({exc!r}); hint: the file was not "
                              "written by Functional.get_config or was edited") from None
        chosen = inputs if config.get("list_inputs", True) else inputs[0]
        return cls(chosen, outputs if len(outputs) > 1 else outputs[0], name=config.get("name"))


def _ref_key(ref: list[Any]) -> tuple[str, int, int]:
    """(layer, call index, output index) of a saved reference; the output index defaults to 0."""
    return str(ref[0]), int(ref[1]), int(ref[2]) if len(ref) > 2 else 0


def _unique(names: list[str]) -> list[str]:
    """Names made unique by suffixes _1, _2, ... (one layer computing two outputs)."""
    out: list[str] = []
    for name in names:
        candidate, k = name, 0
        while candidate in out:
            k += 1
            candidate = f"{name}_{k}"
        out.append(candidate)
    return out


def _as_shapes(shape: Any) -> list[tuple[int, ...]]:
    if shape and isinstance(shape[0], (list, tuple)):
        return [tuple(int(s) for s in item) for item in shape]
    return [tuple(int(s) for s in shape)]

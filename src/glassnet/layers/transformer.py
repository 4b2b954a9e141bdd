"""Transformer blocks (Vaswani et al., 2017): attention and a feed-forward network, each in a residual
branch with layer normalization, written from ``MultiHeadAttention``, ``LayerNormalization`` and ``Dense``.

With Attn a sublayer, LN a layer norm, FF(h) = W_2 act(W_1 h + b_1) + b_2 and Drop residual dropout:

    pre-LN  (norm_first=True, GPT-2 style):   x <- x + Drop(Attn(LN(x)));   y = x + Drop(FF(LN(x)))
    post-LN (norm_first=False, the paper):    x <- LN(x + Drop(Attn(x)));   y = LN(x + Drop(FF(x)))

``TransformerEncoderBlock``: Attn = bidirectional self-attention (optional ``attention_mask``).
``TransformerDecoderBlock``: Attn = causal self-attention, then (given an encoder output ``memory``)
cross-attention Attn(x, memory) as a second residual branch, then FF. Called on one array it is a
decoder-only (GPT) block without the cross-attention sublayer.

Backward walks the branches in reverse: a residual y = x + F(x) sends dL/dx = g + F'(x)^T g; a norm
after the sum (post-LN) first takes g through LN. Self-attention gets its three input gradients summed.
These match ``torch.nn.TransformerEncoderLayer`` / ``TransformerDecoderLayer`` (batch_first=True) with
d_model = E, nhead = num_heads, key_dim = E / num_heads, dim_feedforward = ff_dim (tests).

A block owns its sublayers (``layers``); ``parameters()`` lists theirs in the order of ``layers``, named
``<block>/<sublayer>/<weight>``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import activations, backend
from .._registry import serialize
from .._typing import Array
from ..errors import ShapeError
from ..parameter import Parameter
from .attention import MultiHeadAttention, _own, _rate, combine_masks
from .base import Layer
from .core import Dense, _positive_int, _resolve
from .normalization import LayerNormalization


def padding_attention_mask(mask: Any, attention_mask: Any = None) -> Any:
    """A (batch, T) padding mask m (True = real step, from ``Embedding(mask_zero=True)``) as an attention
    mask, as Keras does: M[b, i, j] = m[b, i] and m[b, j] (ANDed with ``attention_mask`` if given).
    Padded queries then see no key, so their attention rows are zero (not NaN)."""
    if mask is None:
        return attention_mask
    m = np.asarray(mask, dtype=bool)
    pad = m[:, :, None] & m[:, None, :]
    if attention_mask is None:
        return pad
    given = np.asarray(attention_mask)
    return (given if given.dtype == bool else given != 0) & pad


class _Block(Layer):
    """Shared parts: sublayers, their parameters and names, residual dropout, the FF and norm steps."""

    def __init__(self, num_heads: int, key_dim: int, ff_dim: int, dropout: float, norm_first: bool,
                 activation: Any, layer_norm_epsilon: float, kernel_initializer: Any, seed: Any,
                 name: str | None, trainable: bool) -> None:
        super().__init__(name=name, trainable=trainable)
        where = type(self).__name__
        self.num_heads = _positive_int("num_heads", num_heads, where)
        self.key_dim = _positive_int("key_dim", key_dim, where)
        self.ff_dim = _positive_int("ff_dim", ff_dim, where)
        self.dropout = _rate(dropout, where)
        self.norm_first = bool(norm_first)
        self.activation = _resolve(activations.get, activation, where, "activation")
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        self.kernel_initializer = kernel_initializer
        self.seed = seed if isinstance(seed, (int, np.integer)) else None
        self.rng = backend.make_generator(seed)
        self.layers: list[Layer] = []

    def _attention(self, name: str, causal: bool) -> MultiHeadAttention:
        return MultiHeadAttention(self.num_heads, self.key_dim, dropout=self.dropout, use_causal_mask=causal,
                                  kernel_initializer=self.kernel_initializer, seed=self._child_seed(), name=name)

    def _child_seed(self) -> int:
        return int(self.rng.integers(2**63))

    def _norm(self, name: str) -> LayerNormalization:
        return LayerNormalization(epsilon=self.layer_norm_epsilon, name=name)

    def _feedforward(self) -> Dense:
        return Dense(self.ff_dim, activation=self.activation, kernel_initializer=self.kernel_initializer,
                     name="feedforward_intermediate_dense")

    # -- parameters and names ------------------------------------------------------------------------
    def _rename_parameters(self) -> None:
        super()._rename_parameters()
        for sub in getattr(self, "layers", []):
            sub.set_scope(f"{self._scope}{self._name}/")

    def parameters(self, trainable_only: bool = False) -> list[Parameter]:
        """The sublayers' parameters, sublayer by sublayer (the order of ``layers``)."""
        if trainable_only and not self.trainable:
            return []
        return [p for sub in self.layers for p in sub.parameters(trainable_only)]

    def _build_feedforward(self, width: int) -> None:
        """The output width of the feed-forward network is the input's, so its last Dense is made here."""
        self.feedforward_intermediate_dense.build((width,))
        self.feedforward_output_dense = Dense(width, kernel_initializer=self.kernel_initializer,
                                              name="feedforward_output_dense")
        self.feedforward_output_dense.build((self.ff_dim,))

    def reseed(self, rng: np.random.Generator) -> None:
        self.rng = rng
        for sub in self.layers:
            sub.reseed(np.random.default_rng(rng.integers(2**63)))

    # -- pieces of the computation --------------------------------------------------------------------
    def _drop(self, x: Array, training: bool) -> tuple[Array, Array | None]:
        """Residual dropout x * D / (1 - rate) (training only); returns the output and the scaled mask."""
        if not training or self.dropout == 0.0:
            return x, None
        keep = self.rng.random(x.shape) >= self.dropout
        mask = np.multiply(keep, x.dtype.type(1.0 / (1.0 - self.dropout)), dtype=x.dtype)
        return x * mask, mask

    def _check_sequence(self, x: Array, what: str) -> None:
        if x.ndim != 3:
            raise ShapeError(f"layer {self.name!r} ({type(self).__name__}): {what} must have shape (batch, T, "
                             f"features), got {x.shape}; hint: embed tokens first")

    def _residual(self, x: Array, branch: Any, norm: LayerNormalization, training: bool,
                  caches: list[Any]) -> Array:
        """One residual unit around ``branch(h) -> (out, backward_fn)`` with pre- or post-LN."""
        if self.norm_first:
            out, back = branch(norm.forward(x, training))
            out, mask = self._drop(out, training)
            out += x  # the branch's output is a fresh array: the residual sum goes into it
            y = out
        else:
            out, back = branch(x)
            out, mask = self._drop(out, training)
            y = norm.forward(x + out, training)
        if training:
            caches.append((norm, dict(norm.cache), back, mask))
        return y

    def _residual_backward(self, grad: Array, unit: Any) -> Array:
        norm, norm_cache, back, mask = unit
        norm.cache = norm_cache
        if self.norm_first:
            g_branch = grad if mask is None else grad * mask
            g_x = norm.backward(back(g_branch))  # a fresh array: grad is added into it
            g_x += grad
            return g_x
        g = norm.backward(grad)
        g_branch = g if mask is None else g * mask
        return g + back(g_branch)

    def _ff_branch(self, training: bool) -> Any:
        inner, outer = self.feedforward_intermediate_dense, self.feedforward_output_dense
        assert outer is not None

        def branch(h: Array) -> tuple[Array, Any]:
            y = outer.forward(inner.forward(h, training), training)
            caches = (dict(inner.cache), dict(outer.cache)) if training else None

            def back(g: Array) -> Array:
                assert caches is not None
                inner.cache, outer.cache = caches
                return inner.backward(outer.backward(g))

            return y, back

        return branch

    def _attn_branch(self, mha: MultiHeadAttention, mask: Array | None, training: bool,
                     memory: Array | None = None, grads: dict[str, Array] | None = None) -> Any:
        """Self-attention (memory None: dL/dh = dq + dk + dv) or cross-attention (memory gets dk + dv)."""

        def branch(h: Array) -> tuple[Array, Any]:
            source = h if memory is None else memory
            y, cache = mha.attend(h, source, source, mask, training, self_attention=memory is None)

            def back(g: Array) -> Array:
                assert cache is not None
                g_q, g_k, g_v = mha.attend_backward(g, cache)  # self-attention: g_q is already dq + dk + dv
                if memory is not None:
                    assert grads is not None and g_k is not None and g_v is not None
                    grads["memory"] = g_k + g_v
                return g_q

            return y, back

        return branch

    def _build_mha(self, mha: MultiHeadAttention, e_q: int, e_kv: int) -> None:
        if not mha.built:
            mha.build_projections(e_q, e_kv, e_kv)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "ff_dim": self.ff_dim,
            "dropout": self.dropout,
            "norm_first": self.norm_first,
            "activation": serialize(self.activation),
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "kernel_initializer": serialize(self.kernel_initializer)
            if not isinstance(self.kernel_initializer, str) else self.kernel_initializer,
            "seed": self.seed,
        }


class TransformerEncoderBlock(_Block):
    """Self-attention and feed-forward, each a residual branch with LayerNorm (pre- or post-LN).

    Args:
        num_heads, key_dim: The attention's heads and per-head size (key_dim = E / num_heads is the paper's).
        ff_dim: Hidden width of the feed-forward network.
        dropout: Rate of the attention-probability dropout and of the residual-branch dropout.
        norm_first: True: pre-LN (x + F(LN(x))); False: post-LN (LN(x + F(x))).
        activation: Of the feed-forward hidden layer ("gelu", exact).
        layer_norm_epsilon: Of both norms (1e-5, PyTorch's and Keras-hub's default).

    Call: ``block(x)`` or ``block(x, attention_mask=mask)`` (boolean, broadcastable to (B, T, T),
    True = may attend; arrays only). In a Sequential after ``Embedding(mask_zero=True)`` the padding mask
    m (B, T) arrives as ``mask`` and becomes M[b, i, j] = m[b, i] and m[b, j] (Keras); it passes on.
    Shapes: x (batch, T, E) -> y (batch, T, E).
    Sublayers: self_attention, self_attention_layer_norm, feedforward_layer_norm,
    feedforward_intermediate_dense, feedforward_output_dense.
    """

    accepts_input_list = True  # a list in a graph: [query, value(, key)(, mask)] / [x, memory] / [x, mask]
    takes_mask = True  # a Sequential passes an Embedding(mask_zero=True) padding mask (layers.masking)

    def __init__(self, num_heads: int, key_dim: int, ff_dim: int, dropout: float = 0.0, norm_first: bool = True,
                 activation: Any = "gelu", layer_norm_epsilon: float = 1e-5,
                 kernel_initializer: Any = "glorot_uniform", seed: int | np.random.Generator | None = None,
                 name: str | None = None, trainable: bool = True) -> None:
        super().__init__(num_heads, key_dim, ff_dim, dropout, norm_first, activation, layer_norm_epsilon,
                         kernel_initializer, seed, name, trainable)
        self.self_attention = self._attention("self_attention", causal=False)
        self.self_attention_layer_norm = self._norm("self_attention_layer_norm")
        self.feedforward_layer_norm = self._norm("feedforward_layer_norm")
        self.feedforward_intermediate_dense = self._feedforward()
        self.feedforward_output_dense: Dense | None = None  # made by build: its width is the input's
        self.mask_input = False  # set when a graph passes the padding mask as a second input
        self.layers = self._sublayers()

    def _sublayers(self) -> list[Layer]:
        out = [self.self_attention, self.self_attention_layer_norm, self.feedforward_layer_norm,
               self.feedforward_intermediate_dense, self.feedforward_output_dense]
        return [sub for sub in out if sub is not None]

    @_own
    def build(self, input_shape: Any) -> None:
        several = bool(input_shape) and isinstance(input_shape[0], (list, tuple))
        if several != self.mask_input or (several and len(input_shape) != 2):
            raise ShapeError(f"layer {self.name!r} (TransformerEncoderBlock) takes x, or [x, mask] when called in a "
                             f"graph with attention_mask=..., got input shape {input_shape!r}")
        shape = tuple(int(s) for s in (input_shape[0] if several else input_shape))
        if len(shape) != 2:
            raise ShapeError(f"layer {self.name!r} (TransformerEncoderBlock) takes (batch, T, features), got "
                             f"(batch, {', '.join(map(str, shape))})")
        width = shape[-1]
        self._build_mha(self.self_attention, width, width)
        for norm in (self.self_attention_layer_norm, self.feedforward_layer_norm):
            norm.build((width,))
        self._build_feedforward(width)
        self.layers = self._sublayers()
        self._rename_parameters()
        self.width = width
        self.input_shape = [tuple(int(s) for s in item) for item in input_shape] if several else shape  # type: ignore
        self.output_shape, self.built = shape, True

    def __call__(self, x: Any, training: bool = False, attention_mask: Any = None) -> Any:  # type: ignore[override]
        """``block(x)``; ``block(x, attention_mask=m)`` on arrays, or in a graph with m a symbolic tensor
        (it becomes the block's second input, [x, m], and gets no gradient)."""
        from .symbolic import call_symbolic, is_symbolic

        if is_symbolic(x) and attention_mask is not None:
            self.mask_input = True
            return call_symbolic(self, [x, attention_mask])
        if attention_mask is None:
            return super().__call__(x, training=training)
        return self.forward(x, training=training, attention_mask=attention_mask)

    @_own
    def forward(self, x: Any, training: bool = False, attention_mask: Any = None,  # type: ignore[override]
                mask: Any = None) -> Array:
        if self.mask_input:
            if not isinstance(x, (list, tuple)) or len(x) != 2 or attention_mask is not None:
                raise ShapeError(f"layer {self.name!r} (TransformerEncoderBlock) takes [x, mask] (its mask is a "
                                 "graph input)")
            x, attention_mask = x
        x = np.asarray(x)
        self._check_sequence(x, "the input")
        if not self.built:
            self.build([x.shape[1:], np.shape(attention_mask)[1:]] if self.mask_input else x.shape[1:])
        elif x.shape[-1] != self.width:
            raise ShapeError(f"layer {self.name!r} (TransformerEncoderBlock) was built for width "
                             f"{self.width}, got input of shape {x.shape}")
        mask = combine_masks(padding_attention_mask(mask, attention_mask), False, x.shape[0], x.shape[1],
                             x.shape[1], f"layer {self.name!r} (TransformerEncoderBlock)")
        units: list[Any] = []
        h = self._residual(x, self._attn_branch(self.self_attention, mask, training),
                           self.self_attention_layer_norm, training, units)
        y = self._residual(h, self._ff_branch(training), self.feedforward_layer_norm, training, units)
        self.cache = {"units": units} if training else {}
        return y

    def backward(self, grad_output: Array) -> Array | list[Array | None]:  # type: ignore[override]
        units = self.read_cache("units")
        grad = grad_output
        for unit in reversed(units):
            grad = self._residual_backward(grad, unit)
        return [grad, None] if self.mask_input else grad

    def compute_mask(self, x: Any, mask: Array | None) -> Array | None:
        return mask  # each position's output stays real or padded

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), **({"mask_input": True} if self.mask_input else {})}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TransformerEncoderBlock:
        config = dict(config)
        mask_input = bool(config.pop("mask_input", False))
        block = cls(**config)
        block.mask_input = mask_input
        return block


class TransformerDecoderBlock(_Block):
    """Causal self-attention, cross-attention on an encoder output, feed-forward; residuals and LayerNorm.

    Args: as ``TransformerEncoderBlock``.

    Call: ``block([x, memory])`` (x (B, T, E) the decoder sequence, memory (B, S, E_m) the encoder output)
    or ``block(x)``: a decoder-only (GPT) block, causal self-attention and feed-forward, no cross-attention
    sublayer. On arrays ``self_attention_mask`` (B, T, T) and ``cross_attention_mask`` (B, T, S)
    (True = may attend) may be passed; the causal mask is always applied to self-attention. A padding
    mask from ``Embedding(mask_zero=True)`` in a Sequential masks self-attention as in the encoder.
    ``backward`` returns dL/dx, or [dL/dx, dL/dmemory] for a list input.
    Sublayers: self_attention, self_attention_layer_norm, [cross_attention, cross_attention_layer_norm,]
    feedforward_layer_norm, feedforward_intermediate_dense, feedforward_output_dense.
    """

    accepts_input_list = True  # a list in a graph: [query, value(, key)(, mask)] / [x, memory] / [x, mask]
    takes_mask = True  # a Sequential passes an Embedding(mask_zero=True) padding mask (layers.masking)

    def __init__(self, num_heads: int, key_dim: int, ff_dim: int, dropout: float = 0.0, norm_first: bool = True,
                 activation: Any = "gelu", layer_norm_epsilon: float = 1e-5,
                 kernel_initializer: Any = "glorot_uniform", seed: int | np.random.Generator | None = None,
                 name: str | None = None, trainable: bool = True) -> None:
        super().__init__(num_heads, key_dim, ff_dim, dropout, norm_first, activation, layer_norm_epsilon,
                         kernel_initializer, seed, name, trainable)
        self.self_attention = self._attention("self_attention", causal=True)
        self.self_attention_layer_norm = self._norm("self_attention_layer_norm")
        self.cross_attention = self._attention("cross_attention", causal=False)
        self.cross_attention_layer_norm = self._norm("cross_attention_layer_norm")
        self.feedforward_layer_norm = self._norm("feedforward_layer_norm")
        self.feedforward_intermediate_dense = self._feedforward()
        self.feedforward_output_dense: Dense | None = None  # made by build: its width is the input's
        self.has_cross_attention = False
        self.layers = self._sublayers()

    def _sublayers(self) -> list[Layer]:
        cross = [self.cross_attention, self.cross_attention_layer_norm] if self.has_cross_attention else []
        out = [self.self_attention, self.self_attention_layer_norm, *cross, self.feedforward_layer_norm,
               self.feedforward_intermediate_dense, self.feedforward_output_dense]
        return [sub for sub in out if sub is not None]

    @_own
    def build(self, input_shape: Any) -> None:
        several = bool(input_shape) and isinstance(input_shape[0], (list, tuple))
        shapes = [tuple(int(s) for s in shape) for shape in (input_shape if several else [input_shape])]
        if len(shapes) not in (1, 2) or any(len(s) != 2 for s in shapes):
            raise ShapeError(f"layer {self.name!r} (TransformerDecoderBlock) takes x (batch, T, E) or [x, memory] "
                             f"with memory (batch, S, E_m), got input shape {input_shape!r}")
        width = shapes[0][-1]
        self.has_cross_attention = len(shapes) == 2
        self._build_mha(self.self_attention, width, width)
        norms = [self.self_attention_layer_norm, self.feedforward_layer_norm]
        if self.has_cross_attention:
            self._build_mha(self.cross_attention, width, shapes[1][-1])
            norms.append(self.cross_attention_layer_norm)
        for norm in norms:
            norm.build((width,))
        self._build_feedforward(width)
        self.layers = self._sublayers()
        self._rename_parameters()
        self.input_shape = shapes if several else shapes[0]  # type: ignore[assignment]
        self.output_shape, self.built = shapes[0], True

    def __call__(self, x: Any, training: bool = False, self_attention_mask: Any = None,  # type: ignore[override]
                 cross_attention_mask: Any = None) -> Any:
        if self_attention_mask is None and cross_attention_mask is None:
            return super().__call__(x, training=training)
        return self.forward(x, training=training, self_attention_mask=self_attention_mask,
                            cross_attention_mask=cross_attention_mask)

    @_own
    def forward(self, inputs: Any, training: bool = False, self_attention_mask: Any = None,  # type: ignore[override]
                cross_attention_mask: Any = None, mask: Any = None) -> Array:
        several = isinstance(inputs, (list, tuple))
        xs = [np.asarray(a) for a in (inputs if several else [inputs])]
        if len(xs) not in (1, 2):
            raise ShapeError(f"layer {self.name!r} (TransformerDecoderBlock) takes x or [x, memory], got a list of "
                             f"{len(xs)} arrays")
        for a, what in zip(xs, ("x", "memory")):
            self._check_sequence(a, what)
        if not self.built:
            self.build([a.shape[1:] for a in xs] if several else xs[0].shape[1:])
        if (len(xs) == 2) != self.has_cross_attention:
            raise ShapeError(f"layer {self.name!r} (TransformerDecoderBlock) was built "
                             f"{'with' if self.has_cross_attention else 'without'} cross-attention, so it takes "
                             f"{'[x, memory]' if self.has_cross_attention else 'x alone'}")
        x = xs[0]
        b, t = x.shape[0], x.shape[1]
        where = f"layer {self.name!r} (TransformerDecoderBlock)"
        self_mask = combine_masks(padding_attention_mask(mask, self_attention_mask), True, b, t, t, where)
        units: list[Any] = []
        grads: dict[str, Array] = {}
        h = self._residual(x, self._attn_branch(self.self_attention, self_mask, training),
                           self.self_attention_layer_norm, training, units)
        if self.has_cross_attention:
            memory = xs[1]
            cross_mask = combine_masks(cross_attention_mask, False, b, t, memory.shape[1], where)
            h = self._residual(h, self._attn_branch(self.cross_attention, cross_mask, training, memory, grads),
                               self.cross_attention_layer_norm, training, units)
        y = self._residual(h, self._ff_branch(training), self.feedforward_layer_norm, training, units)
        self.cache = {"units": units, "grads": grads, "several": several} if training else {}
        return y

    def backward(self, grad_output: Array) -> Array | list[Array]:  # type: ignore[override]
        units, grads, several = self.read_cache("units", "grads", "several")
        grad = grad_output
        for unit in reversed(units):
            grad = self._residual_backward(grad, unit)
        return [grad, grads["memory"]] if several else grad

    def compute_mask(self, x: Any, mask: Array | None) -> Array | None:
        return mask  # each position's output stays real or padded

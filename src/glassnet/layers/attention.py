"""Multi-head attention (Vaswani et al., 2017), Keras 3 names and weight layout, backward written out.

With query input x_q (B, T_q, E_q), value input x_v (B, T_k, E_v), key input x_k (B, T_k, E_k) (= x_v if
not given), H heads of key size d and value size d_v:

    Q = x_q W_q + b_q   (B, H, T_q, d)      W_q (E_q, H, d),  b_q (H, d)
    K = x_k W_k + b_k   (B, H, T_k, d)      W_k (E_k, H, d),  b_k (H, d)
    V = x_v W_v + b_v   (B, H, T_k, d_v)    W_v (E_v, H, d_v), b_v (H, d_v)
    S = (Q / sqrt(d)) K^T                   (B, H, T_q, T_k)
    P = masked_softmax(S, M)                over the last axis (the keys), M (B, T_q, T_k) True = may attend
    P~ = P * D / (1 - rate)                 attention dropout, D ~ Bernoulli(1 - rate), training only
    O = P~ V                                (B, H, T_q, d_v)
    y = sum_{h, e} O[b, h, t, e] W_o[h, e, :] + b_o     W_o (H, d_v, E_out), b_o (E_out,)

Masked softmax: P_ij = M_ij e^{S_ij - m_i} / sum_l M_il e^{S_il - m_i} with m_i the largest allowed
score of row i; a row with no allowed key (sum empty) is all zeros, not NaN.

Backward, with G = dL/dy:

    dW_o = O^T G,  db_o = sum G,  dO = G W_o^T
    dV = P~^T dO,  dP~ = dO V^T,  dP = dP~ * D / (1 - rate)
    dS = P * (dP - sum_j dP_ij P_ij)          (the softmax Jacobian-vector product; masked entries have
                                               P = 0, so dS = 0 there, and a row with nothing to attend
                                               to gets dS = 0: zero gradients, not NaN)
    dQ = dS K / sqrt(d),  dK = dS^T Q / sqrt(d)
    dW_q = x_q^T dQ, db_q = sum dQ, dx_q = dQ W_q^T  (and likewise for K and V; x_v gets dx_k + dx_v
                                                       when the key is the value)

Every product is one batched ``matmul`` over (B, H, T, d) arrays: no loop over heads or positions.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import backend, initializers
from .._registry import serialize
from .._typing import Array, Shape
from ..errors import ConfigError, ShapeError
from ._sums import column_sums, row_sums
from .base import Layer
from .core import _positive_int, _resolve


def _own(method: Any) -> Any:
    """Mark a method as handling building and checks itself (``Layer`` then leaves it unwrapped)."""
    method._glassnet_wrapped = True
    return method


def causal_mask(t_q: int, t_k: int) -> Array:
    """Boolean (T_q, T_k) mask, True where key j <= query i (position i sees itself and the past)."""
    return np.tri(t_q, t_k, dtype=bool)


def combine_masks(attention_mask: Any, use_causal_mask: bool, batch: int, t_q: int, t_k: int,
                  where: str) -> Array | None:
    """The boolean mask (batch or 1, 1, T_q, T_k) (axis 1 broadcasts over heads), or None for no mask."""
    mask = None
    if attention_mask is not None:
        mask = np.asarray(attention_mask)
        if mask.dtype != bool:
            mask = mask != 0
        try:
            full = np.broadcast_shapes(mask.shape, (batch, t_q, t_k))
        except ValueError:
            full = None
        if mask.ndim > 3 or full != (batch, t_q, t_k):
            raise ShapeError(f"{where}: attention_mask of shape {mask.shape} does not broadcast to (batch, T_q, "
                             f"T_k) = {(batch, t_q, t_k)}; hint: True marks the keys a query may attend to, e.g. "
                             "a padding mask of shape (batch, 1, T_k)")
        mask = mask.reshape((1,) * (3 - mask.ndim) + mask.shape)
    if use_causal_mask:
        causal = causal_mask(t_q, t_k)
        mask = causal[None] if mask is None else mask & causal
    return None if mask is None else mask[:, None]


def additive_mask(mask: Array, dtype: Any) -> Array:
    """The boolean mask as scores to add: 0 where True (may attend), -inf where False."""
    add = np.zeros(mask.shape, dtype=dtype)
    add[~mask] = -np.inf
    return add


def masked_softmax(scores: Array, mask: Array | None) -> Array:
    """Softmax over the last axis where ``mask`` is True; zeros where it is False, and for empty rows.

    Overwrites ``scores`` (the caller's fresh array) and returns it. The mask enters as an added 0 / -inf
    array (one pass; a ``where=`` copy took twice as long) and the row sums are einsums (``_sums``).
    """
    if mask is not None:
        scores += additive_mask(mask, scores.dtype)
    top = np.maximum.reduce(scores, axis=-1, keepdims=True)
    if mask is not None:
        top[top == -np.inf] = 0.0  # an empty row: exp(-inf - 0) = 0 everywhere
    scores -= top
    np.exp(scores, out=scores)
    total = row_sums(scores.reshape(-1, scores.shape[-1])).reshape(top.shape)
    if mask is not None:
        total[total == 0] = 1.0
    scores /= total
    return scores


def softmax_backward(p: Array, grad_p: Array, out: Array | None = None) -> Array:
    """dS = P * (dP - sum_j dP_j P_j) over the last axis (masked entries, with P = 0, get 0); into ``out``
    (which may be ``grad_p`` itself) when given."""
    inner = np.einsum("...j,...j->...", grad_p, p)[..., None]
    grad = np.subtract(grad_p, inner, out=out)
    grad *= p
    return grad


def _mm(x: Array, w: Array) -> Array:
    """x (..., n) @ w (n, m) as ONE 2-D GEMM. ``np.matmul`` on a 3-D x runs one GEMM per leading index,
    each with BLAS's thread start-up: measured 29 ms as one GEMM against 850 ms as 32 for (32, 64, 128) @
    (128, 512) float32 with 2 threads on a loaded machine (27 against 15 ms with 1 thread)."""
    return np.matmul(x.reshape(-1, x.shape[-1]), w).reshape(x.shape[:-1] + (w.shape[-1],))


def _heads(x: Array, heads: int) -> Array:
    """(B, T, H * d) -> (B, H, T, d) (a view)."""
    b, t, width = x.shape
    return x.reshape(b, t, heads, width // heads).transpose(0, 2, 1, 3)


def _merge_heads(x: Array) -> Array:
    """(B, H, T, d) -> (B, T, H * d) (a copy, C-contiguous)."""
    b, h, t, d = x.shape
    return x.transpose(0, 2, 1, 3).reshape(b, t, h * d)


class MultiHeadAttention(Layer):
    """Multi-head scaled dot-product attention with Keras 3's ``MultiHeadAttention`` weights.

    Args:
        num_heads: Number of heads H.
        key_dim: Size d of each query/key head; scores are scaled by 1 / sqrt(key_dim).
        value_dim: Size d_v of each value head (default key_dim).
        dropout: Dropout rate on the attention probabilities (training only), seeded by ``seed``.
        use_bias: Whether the four projections have biases.
        output_shape: Width E_out of the output (default: the query's width).
        kernel_initializer, bias_initializer: Names or ``Initializer`` objects.
        use_causal_mask: Default of the call argument (a glassnet addition: a graph node keeps no call
            arguments, so a causal layer in a ``Functional`` model says so here; ``get_config`` keeps it).
        seed: Seed (or generator) of the dropout masks; ``fit(seed=...)`` re-seeds through ``reseed``.

    Call: ``mha([query, value])`` or ``mha([query, value, key])`` with arrays of shape (B, T_q, E_q),
    (B, T_k, E_v), (B, T_k, E_k), and the keyword arguments

    * ``attention_mask``: boolean, shape (B, T_q, T_k) or broadcastable to it (a key padding mask is
      (B, 1, T_k)). **True means "may attend"** (the Keras convention). PyTorch's ``attn_mask`` /
      ``key_padding_mask`` use the opposite one (True = masked out): convert with ``~mask``.
      In a ``Functional`` graph pass a symbolic tensor (an ``Input``); it becomes the layer's last list
      input and gets no gradient.
    * ``use_causal_mask``: also forbid keys after the query (j > i); combines with ``attention_mask``.
    * ``return_attention_scores``: return ``(y, P)`` with P (B, H, T_q, T_k) (arrays only).

    A query row with no key to attend to gives a zero output row and zero gradients. After every forward
    pass ``last_attention_scores`` holds P (before dropout) for the glass box. ``backward(g)`` returns one
    gradient per list input (``None`` for a mask input).
    """

    accepts_input_list = True  # a list in a graph: [query, value(, key)(, mask)] / [x, memory] / [x, mask]

    def __init__(
        self,
        num_heads: int,
        key_dim: int,
        value_dim: int | None = None,
        dropout: float = 0.0,
        use_bias: bool = True,
        output_shape: int | None = None,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        use_causal_mask: bool = False,
        seed: int | np.random.Generator | None = None,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(name=name, trainable=trainable)
        where = "MultiHeadAttention"
        self.num_heads = _positive_int("num_heads", num_heads, where)
        self.key_dim = _positive_int("key_dim", key_dim, where)
        self.value_dim = self.key_dim if value_dim is None else _positive_int("value_dim", value_dim, where)
        self.dropout = _rate(dropout, where)
        self.use_bias = bool(use_bias)
        self.output_dim = None if output_shape is None else _output_width(output_shape, where)
        self.kernel_initializer = _resolve(initializers.get, kernel_initializer, where, "kernel_initializer")
        self.bias_initializer = _resolve(initializers.get, bias_initializer, where, "bias_initializer")
        self.use_causal_mask = bool(use_causal_mask)
        self.mask_input = False  # set when a graph passes the mask as the last list input
        self.seed = seed if isinstance(seed, (int, np.integer)) else None
        self.rng = backend.make_generator(seed)
        self.last_attention_scores: Array | None = None

    # -- building ---------------------------------------------------------------------------------
    def _split_shapes(self, input_shape: Any) -> tuple[Shape, Shape, Shape]:
        shapes = [tuple(int(s) for s in shape) for shape in input_shape] if isinstance(
            input_shape, (list, tuple)) and input_shape and isinstance(input_shape[0], (list, tuple)) else None
        n = None if shapes is None else len(shapes) - int(self.mask_input)
        if shapes is None or n not in (2, 3):
            raise ShapeError(f"layer {self.name!r} (MultiHeadAttention) takes a list [query, value] or [query, "
                             f"value, key], got input shape {input_shape!r}; hint: self-attention is mha([x, x])")
        q, v = shapes[0], shapes[1]
        k = shapes[2] if n == 3 else v
        for label, shape in (("query", q), ("value", v), ("key", k)):
            if len(shape) != 2:
                raise ShapeError(f"layer {self.name!r} (MultiHeadAttention): {label} must have shape (batch, T, "
                                 f"features), got (batch, {', '.join(map(str, shape))})")
        if k[0] != v[0]:
            raise ShapeError(f"layer {self.name!r} (MultiHeadAttention): key and value need the same length T_k, "
                             f"got {k[0]} and {v[0]}")
        return q, v, k

    @_own
    def build(self, input_shape: Any) -> None:
        q, v, k = self._split_shapes(input_shape)
        self.build_projections(q[-1], k[-1], v[-1])
        self.input_shape = [tuple(int(s) for s in shape) for shape in input_shape]  # type: ignore[assignment]
        self.output_shape = (q[0], self.output_dim or q[-1])

    def build_projections(self, e_q: int, e_k: int, e_v: int) -> None:
        """Create the eight weights (Keras order) for inputs of widths E_q, E_k, E_v."""
        h, d, dv = self.num_heads, self.key_dim, self.value_dim
        e_out = self.output_dim or e_q
        for part, width, size in (("query", e_q, d), ("key", e_k, d), ("value", e_v, dv)):
            setattr(self, f"{part}_kernel",
                    self.add_parameter(f"{part}/kernel", self.kernel_initializer((width, h, size), self.dtype)))
            if self.use_bias:
                setattr(self, f"{part}_bias",
                        self.add_parameter(f"{part}/bias", self.bias_initializer((h, size), self.dtype)))
        self.output_kernel = self.add_parameter(
            "attention_output/kernel", self.kernel_initializer((h, dv, e_out), self.dtype))
        if self.use_bias:
            self.output_bias = self.add_parameter(
                "attention_output/bias", self.bias_initializer((e_out,), self.dtype))
        self.built = True

    def compute_output_shape(self, input_shape: Any) -> Shape:
        q, _, _ = self._split_shapes(input_shape)
        return (q[0], self.output_dim or q[-1])

    # -- calling ----------------------------------------------------------------------------------
    def __call__(self, inputs: Any, training: bool = False, attention_mask: Any = None,  # type: ignore[override]
                 use_causal_mask: bool | None = None, return_attention_scores: bool = False) -> Any:
        from .symbolic import call_symbolic, is_symbolic

        if is_symbolic(inputs):
            if return_attention_scores:
                raise ConfigError(f"layer {self.name!r}: return_attention_scores works on arrays only; hint: in a "
                                  "graph read layer.last_attention_scores after a forward pass")
            if use_causal_mask is not None:
                self.use_causal_mask = bool(use_causal_mask)
            items = list(inputs)
            if attention_mask is not None:
                self.mask_input = True
                items.append(attention_mask)
            return call_symbolic(self, items)
        y = self.forward(inputs, training=training, attention_mask=attention_mask, use_causal_mask=use_causal_mask)
        return (y, self.last_attention_scores) if return_attention_scores else y

    @_own
    def forward(self, inputs: Any, training: bool = False, attention_mask: Any = None,  # type: ignore[override]
                use_causal_mask: bool | None = None) -> Array:
        if not isinstance(inputs, (list, tuple)):
            raise ShapeError(f"layer {self.name!r} (MultiHeadAttention) takes a list [query, value] or [query, "
                             f"value, key], got {type(inputs).__name__}; hint: self-attention is mha([x, x])")
        xs = [np.asarray(a) for a in inputs]
        if self.mask_input:
            if attention_mask is not None:
                raise ConfigError(f"layer {self.name!r}: the mask is already the last list input")
            attention_mask, xs = xs[-1], xs[:-1]
        if len(xs) not in (2, 3) or any(a.ndim != 3 for a in xs):
            raise ShapeError(f"layer {self.name!r} (MultiHeadAttention) takes [query, value] or [query, value, "
                             f"key] of shape (batch, T, features), got shapes {[a.shape for a in xs]}")
        query, value = xs[0], xs[1]
        key = xs[2] if len(xs) == 3 else value
        if not self.built:
            self.build([a.shape[1:] for a in xs])
        self._check_widths(query, value, key)
        causal = self.use_causal_mask if use_causal_mask is None else bool(use_causal_mask)
        mask = combine_masks(attention_mask, causal, query.shape[0], query.shape[1], key.shape[1],
                             f"layer {self.name!r} (MultiHeadAttention)")
        y, cache = self.attend(query, key, value, mask, training)
        self.cache = {"attn": cache, "n_inputs": len(xs), "key_is_value": len(xs) == 2} if training else {}
        return y

    def _check_widths(self, query: Array, value: Array, key: Array) -> None:
        want = (self.query_kernel.shape[0], self.value_kernel.shape[0], self.key_kernel.shape[0])
        got = (query.shape[-1], value.shape[-1], key.shape[-1])
        if want != got or key.shape[1] != value.shape[1] or len({query.shape[0], key.shape[0], value.shape[0]}) > 1:
            raise ShapeError(f"layer {self.name!r} (MultiHeadAttention) was built for (query, value, key) widths "
                             f"{want}, got shapes query {query.shape}, value {value.shape}, key {key.shape}; hint: "
                             "key and value share batch and length, every input shares the batch")

    # -- the computation, independent of how inputs arrive -------------------------------------------
    def _project(self, x: Array, part: str) -> Array:
        """x (B, T, E) @ kernel (E, H * size) + bias -> (B, T, H * size), one GEMM."""
        kernel = getattr(self, f"{part}_kernel").value
        out = _mm(x, kernel.reshape(kernel.shape[0], -1))
        if self.use_bias:
            out += getattr(self, f"{part}_bias").value.reshape(-1)
        return out

    def _fused_kernel(self, scale: float = 1.0) -> tuple[Array, Array | None]:
        """[scale W_q | W_k | W_v] as one (E, H (2 d + d_v)) matrix and the biases joined the same way."""
        parts = ("query", "key", "value")
        kernel = np.concatenate([getattr(self, f"{p}_kernel").value.reshape(self.query_kernel.shape[0], -1)
                                 for p in parts], axis=1)
        width = self.num_heads * self.key_dim
        if scale != 1.0:
            kernel[:, :width] *= scale
        if not self.use_bias:
            return kernel, None
        bias = np.concatenate([getattr(self, f"{p}_bias").value.reshape(-1) for p in parts])
        if scale != 1.0:
            bias[:width] *= scale
        return kernel, bias

    def attend(self, query: Array, key: Array, value: Array, mask: Array | None,
               training: bool = False, self_attention: bool = False) -> tuple[Array, dict[str, Any] | None]:
        """y and the values backward needs (None unless training), for a mask from ``combine_masks``.

        ``self_attention=True`` (query, key and value are one input x, as in the Transformer blocks) computes
        the three projections as one GEMM x [W_q / sqrt(d) | W_k | W_v] (the score scale folded into the
        query's kernel and bias), and backward as two (``attend_backward`` then returns dL/dx as its first
        gradient and None for the other two).
        """
        h = self.num_heads
        scale = 1.0 / math.sqrt(self.key_dim)
        fused = None
        if self_attention:
            fused = self._fused_kernel(scale)
            qkv = _mm(query, fused[0])
            if fused[1] is not None:
                qkv += fused[1]
            width = h * self.key_dim
            q = qkv[..., :width]  # already Q / sqrt(d)
            k, v = qkv[..., width:2 * width], qkv[..., 2 * width:]
        else:
            q = self._project(query, "query")
            k, v = self._project(key, "key"), self._project(value, "value")
            q *= scale  # Keras scales the query before the dot product
        q_h, k_h, v_h = _heads(q, h), _heads(k, h), _heads(v, h)
        p = masked_softmax(np.matmul(q_h, k_h.transpose(0, 1, 3, 2)), mask)
        self.last_attention_scores = p
        drop = None
        if training and self.dropout > 0.0:
            keep = self.rng.random(p.shape) >= self.dropout
            drop = np.multiply(keep, p.dtype.type(1.0 / (1.0 - self.dropout)), dtype=p.dtype)
            p_used = p * drop
        else:
            p_used = p
        b, t_q = query.shape[0], query.shape[1]
        o_split = np.empty((b, t_q, h, v_h.shape[-1]), dtype=np.result_type(p_used, v_h))
        np.matmul(p_used, v_h, out=o_split.transpose(0, 2, 1, 3))  # heads merged as written: no copy
        o = o_split.reshape(b, t_q, -1)  # (B, T_q, H * d_v)
        kernel = self.output_kernel.value
        y = _mm(o, kernel.reshape(-1, kernel.shape[-1]))
        if self.use_bias:
            y += self.output_bias.value
        if not training:
            return y, None
        cache = {"query": query, "key": key, "value": value, "q_h": q_h, "k_h": k_h, "v_h": v_h, "p": p,
                 "drop": drop, "p_used": p_used, "o": o, "fused": fused}
        return y, cache

    def attend_backward(self, grad: Array, cache: dict[str, Any]) -> tuple[Array, Array | None, Array | None]:
        """(dL/dquery, dL/dkey, dL/dvalue) from dL/dy; fills every parameter's ``.grad``.
        After ``attend(..., self_attention=True)``: (dL/dx, None, None), dL/dx the sum of the three."""
        h = self.num_heads
        scale = 1.0 / math.sqrt(self.key_dim)
        kernel = self.output_kernel.value
        e_out = kernel.shape[-1]
        o = cache["o"]
        g2 = grad.reshape(-1, e_out)
        np.matmul(o.reshape(-1, o.shape[-1]).T, g2, out=self.output_kernel.grad.reshape(-1, e_out))
        if self.use_bias:
            column_sums(g2, out=self.output_bias.grad)
        grad_o = _heads(_mm(grad, kernel.reshape(-1, e_out).T), h)  # (B, H, T_q, d_v)
        grad_p = np.matmul(grad_o, cache["v_h"].transpose(0, 1, 3, 2))
        if cache["drop"] is not None:
            grad_p *= cache["drop"]
        grad_s = softmax_backward(cache["p"], grad_p, out=grad_p)
        q_h, k_h, p_used = cache["q_h"], cache["k_h"], cache["p_used"]
        if cache["fused"] is not None:
            return self._fused_backward(cache["query"], cache["fused"], grad_s, q_h, k_h, p_used, grad_o), None, None
        grad_q_h = np.matmul(grad_s, k_h)
        grad_q_h *= scale  # q_h already holds Q / sqrt(d)
        grad_k_h = np.matmul(grad_s.transpose(0, 1, 3, 2), q_h)
        grad_v_h = np.matmul(p_used.transpose(0, 1, 3, 2), grad_o)
        grads = []
        for part, x, g_h in (("query", cache["query"], grad_q_h), ("key", cache["key"], grad_k_h),
                             ("value", cache["value"], grad_v_h)):
            grads.append(self._project_backward(part, x, _merge_heads(g_h)))
        return grads[0], grads[1], grads[2]

    def _fused_backward(self, x: Array, fused: tuple[Array, Array | None], grad_s: Array, q_h: Array,
                        k_h: Array, p_used: Array, grad_o: Array) -> Array:
        """G = [dQ' | dK | dV] (B, T, H (2 d + d_v)), Q' = Q / sqrt(d), written by the three batched products
        straight into its column blocks; dW' = x^T G (one GEMM), dx = G W'^T (one) with W' the fused kernel
        [W_q / sqrt(d) | W_k | W_v], so dW_q = dW'_q / sqrt(d) (and the same for b_q)."""
        b, h, t, d = q_h.shape
        dv = grad_o.shape[-1]
        joined = np.empty((b, t, h * (2 * d + dv)), dtype=grad_s.dtype)
        cuts = (0, h * d, 2 * h * d, h * (2 * d + dv))

        def block(i: int) -> Array:  # (B, H, T, size) view of column block i
            return joined[..., cuts[i]:cuts[i + 1]].reshape(b, t, h, -1).transpose(0, 2, 1, 3)

        np.matmul(grad_s, k_h, out=block(0))
        np.matmul(grad_s.transpose(0, 1, 3, 2), q_h, out=block(1))
        np.matmul(p_used.transpose(0, 1, 3, 2), grad_o, out=block(2))
        rows = joined.reshape(-1, joined.shape[-1])
        width = x.shape[-1]
        grad_w = np.matmul(x.reshape(-1, width).T, rows)
        grad_b = column_sums(rows) if self.use_bias else None
        scale = 1.0 / math.sqrt(self.key_dim)
        for (start, stop), part in zip(zip(cuts, cuts[1:]), ("query", "key", "value")):
            factor = scale if part == "query" else 1.0
            np.multiply(grad_w[:, start:stop], factor, out=getattr(self, f"{part}_kernel").grad.reshape(width, -1))
            if grad_b is not None:
                np.multiply(grad_b[start:stop], factor, out=getattr(self, f"{part}_bias").grad.reshape(-1))
        return _mm(joined, fused[0].T)

    def _project_backward(self, part: str, x: Array, grad: Array) -> Array:
        kernel = getattr(self, f"{part}_kernel")
        width = kernel.shape[0]
        g2 = grad.reshape(-1, grad.shape[-1])
        np.matmul(x.reshape(-1, width).T, g2, out=kernel.grad.reshape(width, -1))
        if self.use_bias:
            column_sums(g2, out=getattr(self, f"{part}_bias").grad.reshape(-1))
        return _mm(grad, kernel.value.reshape(width, -1).T)

    def backward(self, grad_output: Array) -> list[Array | None]:  # type: ignore[override]
        """[dL/dquery, dL/dvalue] or [dL/dquery, dL/dvalue, dL/dkey] (+ None for a mask input)."""
        cache, key_is_value = self.read_cache("attn", "key_is_value")
        grad_q, grad_k, grad_v = self.attend_backward(grad_output, cache)
        assert grad_k is not None and grad_v is not None  # forward never fuses: its inputs may be distinct
        grads: list[Array | None] = [grad_q, grad_v + grad_k] if key_is_value else [grad_q, grad_v, grad_k]
        if self.mask_input:
            grads.append(None)
        return grads

    def reseed(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "value_dim": self.value_dim,
            "dropout": self.dropout,
            "use_bias": self.use_bias,
            "output_shape": self.output_dim,
            "kernel_initializer": serialize(self.kernel_initializer),
            "bias_initializer": serialize(self.bias_initializer),
            "use_causal_mask": self.use_causal_mask,
            "seed": self.seed,
            **({"mask_input": True} if self.mask_input else {}),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> MultiHeadAttention:
        config = dict(config)
        mask_input = bool(config.pop("mask_input", False))
        layer = cls(**config)
        layer.mask_input = mask_input
        return layer


def _rate(value: Any, where: str) -> float:
    try:
        rate = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: dropout must be a number in [0, 1), got {value!r}") from None
    if not 0.0 <= rate < 1.0:
        raise ConfigError(f"{where}: dropout must be in [0, 1), got {value!r}; hint: it is the fraction of "
                          "attention weights dropped")
    return rate


def _output_width(value: Any, where: str) -> int:
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            raise ConfigError(f"{where}: output_shape must be one width (an int), got {value!r}")
        value = value[0]
    return _positive_int("output_shape", value, where)

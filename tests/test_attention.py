"""MultiHeadAttention: gradient checks (with and without masks, causal, cross-attention), PyTorch parity,
masks (Keras convention), empty rows, graphs, dropout, config round trip."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.diagnostics import check_multi_input_layer
from glassnet.errors import ConfigError, ShapeError

L = gn.layers


def _randomize(layer, rng, scale=0.5):
    for p in layer.parameters():
        p.value = rng.normal(size=p.shape) * scale


def _mha(rng, e=6, heads=3, key_dim=None, shapes=None, **kwargs):
    key_dim = key_dim or e // heads
    layer = L.MultiHeadAttention(heads, key_dim, **kwargs)
    layer.build(shapes or [(4, e), (5, e)])
    _randomize(layer, rng)
    return layer


def _check(layer, xs, **call):
    """Gradient check with the call's mask options; the key bias is checked apart: softmax is invariant to
    adding q.b_k to a whole row of scores, so dL/db_k = 0 exactly and its relative error is meaningless."""
    forward = layer.forward

    def masked_forward(inputs, training=False):
        return forward(inputs, training=training, **call)

    layer.forward = masked_forward
    try:
        report = check_multi_input_layer(layer, xs)
    finally:
        del layer.forward
    key_bias = f"{layer.name}/key/bias"
    if key_bias in report.errors:
        del report.errors[key_bias]
        np.testing.assert_allclose(layer.key_bias.grad, 0.0, atol=1e-12)
    return report


@pytest.mark.parametrize("call", [{}, {"use_causal_mask": True}, {"attention_mask": "padding"},
                                  {"attention_mask": "random", "use_causal_mask": True}])
def test_self_attention_passes_gradient_check(call, rng, float64):
    layer = _mha(rng, shapes=[(5, 6), (5, 6)])
    x = rng.normal(size=(2, 5, 6))
    call = dict(call)
    if call.get("attention_mask") == "padding":
        call["attention_mask"] = np.array([[True] * 5, [True] * 3 + [False] * 2])[:, None, :]  # (B, 1, T_k)
    elif call.get("attention_mask") == "random":
        mask = rng.random((2, 5, 5)) > 0.4
        mask[:, :, 0] = True
        call["attention_mask"] = mask
    report = _check(layer, [x, x], **call)
    assert report.passed, report
    assert len(report.errors) == 2 + 7  # two inputs, eight weights less the key bias


def test_cross_attention_with_distinct_key_passes_gradient_check(rng, float64):
    """T_q != T_k, three different inputs and widths, value_dim != key_dim, output_shape set."""
    layer = L.MultiHeadAttention(2, 3, value_dim=4, output_shape=5)
    layer.build([(3, 6), (4, 7), (4, 2)])
    _randomize(layer, rng)
    assert [p.shape for p in layer.parameters()] == [(6, 2, 3), (2, 3), (2, 2, 3), (2, 3), (7, 2, 4), (2, 4),
                                                      (2, 4, 5), (5,)]
    xs = [rng.normal(size=(2, 3, 6)), rng.normal(size=(2, 4, 7)), rng.normal(size=(2, 4, 2))]
    mask = rng.random((2, 3, 4)) > 0.3
    mask[..., 1] = True
    report = _check(layer, xs, attention_mask=mask)
    assert report.passed, report
    assert layer.forward(xs).shape == (2, 3, 5)


def _torch_mha(torch, layer, e, heads):
    """nn.MultiheadAttention with our weights. With key_dim = E / H our kernels (E, H, d) are, reshaped to
    (E, H d), the transposes of PyTorch's row blocks: in_proj_weight = [W_q; W_k; W_v] with
    W_q = query_kernel.reshape(E, E).T (head h is rows h d .. (h+1) d in both), in_proj_bias = the biases
    flattened, out_proj.weight = output_kernel.reshape(E, E).T (output kernel (H, d, E) -> (H d, E))."""
    ref = torch.nn.MultiheadAttention(e, heads, batch_first=True)
    kernels = [getattr(layer, f"{part}_kernel").value.reshape(e, e).T for part in ("query", "key", "value")]
    biases = [getattr(layer, f"{part}_bias").value.reshape(-1) for part in ("query", "key", "value")]
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.tensor(np.concatenate(kernels)))
        ref.in_proj_bias.copy_(torch.tensor(np.concatenate(biases)))
        ref.out_proj.weight.copy_(torch.tensor(layer.output_kernel.value.reshape(e, e).T))
        ref.out_proj.bias.copy_(torch.tensor(layer.output_bias.value))
    return ref


@pytest.mark.parametrize("case", ["plain", "padding", "causal", "padding+causal", "cross"])
def test_mha_matches_pytorch(case, rng, float64, torch):
    e, heads, b, t_q = 8, 2, 3, 5
    t_k = 7 if case == "cross" else t_q
    layer = _mha(rng, e=e, heads=heads, shapes=[(t_q, e), (t_k, e)])
    ref = _torch_mha(torch, layer, e, heads)
    q = rng.normal(size=(b, t_q, e))
    v = q if case != "cross" else rng.normal(size=(b, t_k, e))
    allowed = np.ones((b, t_q, t_k), dtype=bool)  # Keras convention: True = may attend
    call = {}
    if "padding" in case:
        lengths = np.array([t_k, 3, 4])
        padding = np.arange(t_k)[None, :] < lengths[:, None]  # (B, T_k)
        call["attention_mask"] = padding[:, None, :]
        allowed &= padding[:, None, :]
    if "causal" in case:
        call["use_causal_mask"] = True
        allowed &= np.tri(t_q, t_k, dtype=bool)
    inputs = [q, v] if case != "cross" else [q, v]
    y = layer.forward(inputs, training=True, **call)
    g = rng.normal(size=y.shape)
    grads = layer.backward(g)
    qt = torch.tensor(q, requires_grad=True)
    vt = qt if case != "cross" else torch.tensor(v, requires_grad=True)
    # PyTorch's boolean attn_mask is the opposite: True = NOT allowed; shape (B * H, T_q, T_k), batch-major
    attn_mask = torch.tensor(np.repeat(~allowed, heads, axis=0))
    yt, weights = ref(qt, vt, vt, attn_mask=attn_mask, average_attn_weights=False)
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(layer.last_attention_scores, weights.detach().numpy(), rtol=1e-10, atol=1e-13)
    if case == "cross":
        np.testing.assert_allclose(grads[0], qt.grad.numpy(), rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(grads[1], vt.grad.numpy(), rtol=1e-10, atol=1e-13)
    else:  # self-attention given as [x, x]: the graph sums the two gradients
        np.testing.assert_allclose(grads[0] + grads[1], qt.grad.numpy(), rtol=1e-10, atol=1e-13)
    w_grad = ref.in_proj_weight.grad.numpy()
    for k, part in enumerate(("query", "key", "value")):
        ours = getattr(layer, f"{part}_kernel").grad.reshape(e, e).T
        np.testing.assert_allclose(ours, w_grad[k * e:(k + 1) * e], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.output_kernel.grad.reshape(e, e).T, ref.out_proj.weight.grad.numpy(),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.output_bias.grad, ref.out_proj.bias.grad.numpy(), rtol=1e-10)


def test_query_with_nothing_to_attend_gives_zeros_and_zero_gradients(rng, float64):
    layer = _mha(rng, shapes=[(3, 6), (4, 6)])
    q, v = rng.normal(size=(2, 3, 6)), rng.normal(size=(2, 4, 6))
    mask = np.ones((2, 3, 4), dtype=bool)
    mask[1, 2] = False  # sample 1, query 2 may attend to nothing
    y, scores = layer([q, v], training=True, attention_mask=mask, return_attention_scores=True)
    assert np.isfinite(y).all() and np.isfinite(scores).all()
    np.testing.assert_array_equal(scores[1, :, 2], 0.0)
    bias_only = layer.output_bias.value  # zero attention output: only the output bias is left
    np.testing.assert_allclose(y[1, 2], bias_only, atol=1e-15)
    g = np.zeros_like(y)
    g[1, 2] = rng.normal(size=6)  # a gradient only on the empty row
    grad_q, grad_v = layer.backward(g)
    np.testing.assert_array_equal(grad_q, 0.0)
    np.testing.assert_array_equal(grad_v, 0.0)
    np.testing.assert_allclose(layer.output_bias.grad, g[1, 2])
    report = _check(layer, [q, v], attention_mask=mask)
    assert report.passed, report


def test_scores_are_a_masked_softmax_of_scaled_dot_products(rng, float64):
    """The formula written out: P = softmax(Q K^T / sqrt(d)) over allowed keys, per head."""
    layer = _mha(rng, e=4, heads=2, key_dim=3, shapes=[(3, 4), (3, 4)])
    x = rng.normal(size=(1, 3, 4))
    _, p = layer([x, x], use_causal_mask=True, return_attention_scores=True)
    q = np.einsum("bte,ehd->bhtd", x, layer.query_kernel.value) + layer.query_bias.value[None, :, None]
    k = np.einsum("bte,ehd->bhtd", x, layer.key_kernel.value) + layer.key_bias.value[None, :, None]
    s = np.einsum("bhid,bhjd->bhij", q, k) / np.sqrt(3)
    s = np.where(np.tri(3, dtype=bool), s, -np.inf)
    expected = np.exp(s - s.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(p, expected, rtol=1e-12)
    np.testing.assert_array_equal(np.triu(p[0, 0], 1), 0.0)


def test_masked_softmax_and_its_backward_match_the_formula_on_large_scores(rng, float64):
    """(B, H, T_q, T_k) past the small-array path of layers._sums, with a padding + causal mask and rows
    that see no key; the formula written out in NumPy."""
    from glassnet.layers.attention import combine_masks, masked_softmax, softmax_backward

    b, h, t = 4, 3, 24
    padding = np.arange(t)[None, :] < np.array([t, 5, 1, 0])[:, None]  # the last batch sees nothing
    mask = combine_masks(padding[:, None, :], True, b, t, t, "test")
    scores = rng.normal(size=(b, h, t, t)) * 4
    top = np.where(mask, scores, -np.inf).max(-1, keepdims=True)
    top[np.isinf(top)] = 0.0  # a row with no key: every entry masked
    expected = np.where(mask, np.exp(scores - top), 0.0)
    total = expected.sum(-1, keepdims=True)
    expected = expected / np.where(total == 0, 1.0, total)
    p = masked_softmax(scores.copy(), mask)
    np.testing.assert_allclose(p, expected, rtol=1e-12, atol=1e-15)
    assert not np.isnan(p).any() and np.all(p[3] == 0)
    grad_p = rng.normal(size=p.shape)
    want = expected * (grad_p - (grad_p * expected).sum(-1, keepdims=True))
    np.testing.assert_allclose(softmax_backward(p, grad_p), want, rtol=1e-12, atol=1e-15)
    into = grad_p.copy()
    assert softmax_backward(p, into, out=into) is into
    np.testing.assert_allclose(into, want, rtol=1e-12, atol=1e-15)


def test_mha_in_a_functional_graph_with_a_mask_input(rng, float64):
    x_in = gn.layers.Input(shape=(4, 6), name="x")
    m_in = gn.layers.Input(shape=(1, 4), name="mask")
    mha = L.MultiHeadAttention(2, 3, use_causal_mask=True, name="attn")
    y = gn.layers.Dense(2)(mha([x_in, x_in], attention_mask=m_in))
    model = gn.Model(inputs=[x_in, m_in], outputs=y)
    x = rng.normal(size=(3, 4, 6))
    mask = np.array([[1, 1, 1, 1], [1, 1, 0, 0], [1, 1, 1, 0]], dtype=float)[:, None, :]
    out = model.forward([x, mask])
    direct = model.layers[-1].forward(mha.forward([x, x, mask]))
    np.testing.assert_allclose(out, direct)
    assert mha.last_attention_scores.shape == (3, 2, 4, 4)
    assert np.all(mha.last_attention_scores[1, :, :, 2:] == 0)
    rebuilt = type(model).from_config(model.get_config())
    rebuilt.set_weights(model.get_weights())
    np.testing.assert_allclose(rebuilt.forward([x, mask]), out)
    model.forward([x, mask], training=True)
    grad_x, grad_mask = model.backward(np.ones((3, 4, 2)))
    assert grad_x.shape == x.shape and grad_mask is None  # the mask input gets no gradient
    report = check_multi_input_layer(model, [x, mask], check_input=False)
    del report.errors["attn/key/bias"]
    assert report.passed, report


def test_attention_dropout_is_seeded_and_used_by_backward(rng, float64):
    x = rng.normal(size=(2, 5, 6))
    a, b = (L.MultiHeadAttention(2, 3, dropout=0.5, seed=7) for _ in range(2))
    ya = a.forward([x, x], training=True)
    b.build([(5, 6), (5, 6)])
    b.set_weights(a.get_weights())
    np.testing.assert_array_equal(b.forward([x, x], training=True), ya)  # same seed, same masks
    np.testing.assert_array_equal(a.forward([x, x]), b.forward([x, x]))  # inference: no dropout
    assert not np.allclose(a.forward([x, x]), ya)
    a.reseed(np.random.default_rng(3))

    def same_mask():
        a.reseed(np.random.default_rng(3))

    report = gn.diagnostics.check_layer(a, [x, x], before_forward=same_mask)
    del report.errors[f"{a.name}/key/bias"]
    assert report.passed, report


def test_mha_keeps_float32(rng):
    layer = L.MultiHeadAttention(2, 4)
    x = rng.normal(size=(2, 3, 8)).astype(np.float32)
    y = layer.forward([x, x], training=True, use_causal_mask=True)
    assert y.dtype == np.float32 and layer.last_attention_scores.dtype == np.float32
    assert all(g.dtype == np.float32 for g in layer.backward(np.ones_like(y)))
    assert all(p.grad.dtype == np.float32 for p in layer.parameters())


def test_mha_config_round_trip_and_errors(rng):
    layer = L.MultiHeadAttention(4, 8, value_dim=2, dropout=0.1, use_bias=False, output_shape=3, name="m")
    config = gn.layers.serialize_layer(layer)
    again = gn.layers.deserialize_layer(config)
    assert again.get_config() == layer.get_config()
    x = rng.normal(size=(2, 3, 5))
    again.forward([x, x])
    assert [p.shape for p in again.parameters()] == [(5, 4, 8), (5, 4, 8), (5, 4, 2), (4, 2, 3)]
    with pytest.raises(ShapeError, match="list"):
        L.MultiHeadAttention(2, 2).forward(x)
    with pytest.raises(ShapeError, match="broadcast"):
        L.MultiHeadAttention(2, 2).forward([x, x], attention_mask=np.ones((2, 4, 3), dtype=bool))
    with pytest.raises(ConfigError, match="dropout"):
        L.MultiHeadAttention(2, 2, dropout=1.0)
    with pytest.raises(ConfigError, match="num_heads"):
        L.MultiHeadAttention(0, 2)


def test_head_entropy_is_normalized_and_finds_collapsed_heads(rng):
    from glassnet.diagnostics.attention import collapsed_heads, head_entropy

    t = 4
    causal = np.tri(t, dtype=bool)
    uniform = causal / causal.sum(axis=-1, keepdims=True)  # row i: 1/(i+1) on keys 0..i
    one_key = np.eye(t)  # every query looks at itself only
    mixed = np.where(causal, rng.random((t, t)) + 0.1, 0.0)
    mixed /= mixed.sum(axis=-1, keepdims=True)
    scores = np.stack([uniform, one_key, mixed])[None]  # (1, 3 heads, T, T)
    entropy = head_entropy(scores, attention_mask=causal)
    np.testing.assert_allclose(entropy[:2], [1.0, 0.0], atol=1e-12)
    rows = [-(r[: i + 1] * np.log(r[: i + 1])).sum() / np.log(i + 1) for i, r in enumerate(mixed) if i >= 1]
    np.testing.assert_allclose(entropy[2], np.mean(rows), rtol=1e-12)  # the formula written out
    assert collapsed_heads(entropy) == [(0, "uniform"), (1, "one key")]
    np.testing.assert_allclose(head_entropy(scores[:, :1]), [1.0])  # without a mask: keys with P > 0

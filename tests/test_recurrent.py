"""SimpleRNN, LSTM, GRU: gradient checks, PyTorch parity, masks against unpadded runs, the equations of GRU
reset_after=False in NumPy, dropout masks fixed over time, gradient through time, a 10-step Adam run."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.diagnostics.gradcheck import check_layer
from glassnet.layers import GRU, LSTM, Dense, SimpleRNN

KINDS = {"rnn": SimpleRNN, "lstm": LSTM, "gru": GRU, "gru_before": lambda u, **kw: GRU(u, reset_after=False, **kw)}


def _make(kind, units, features, rng, **kwargs):
    layer = KINDS[kind](units, **kwargs)
    layer.build((4, features))
    for p in layer.parameters():
        p.value = rng.normal(0.0, 0.6, size=p.shape)
    return layer


class _Flat:
    """Adapter for check_layer: a layer with several outputs (return_state) and an optional mask, seen as
    one (batch, -1) output; backward splits the gradient back into one gradient per output."""

    def __init__(self, layer, mask=None):
        self.layer, self.mask, self.shapes = layer, mask, None

    def parameters(self):
        return self.layer.parameters()

    def forward(self, x, training=False):
        out = self.layer.forward(x, training=training, mask=self.mask)
        outs = out if isinstance(out, list) else [out]
        self.shapes = [o.shape for o in outs]
        return np.concatenate([o.reshape(len(o), -1) for o in outs], axis=1)

    def backward(self, grad):
        sizes = np.cumsum([int(np.prod(s[1:])) for s in self.shapes])[:-1]
        parts = [g.reshape(s) for g, s in zip(np.split(grad, sizes, axis=1), self.shapes)]
        return self.layer.backward(parts if len(parts) > 1 else parts[0])


# -- gradient checks --------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("return_sequences,go_backwards", [(False, False), (True, False), (True, True)])
def test_gradient_check_input_and_parameters(float64, rng, kind, return_sequences, go_backwards):
    layer = _make(kind, 3, 2, rng, return_sequences=return_sequences, go_backwards=go_backwards)
    x = rng.normal(size=(2, 4, 2))
    report = check_layer(layer, x)
    assert report.max_relative_error < 1e-6, report
    assert set(report.errors) == {"input", *(p.name for p in layer.parameters())}


@pytest.mark.parametrize("kind", list(KINDS))
def test_gradient_check_initial_states_final_states_and_mask(float64, rng, kind):
    layer = _make(kind, 3, 2, rng, return_sequences=True, return_state=True)
    n_states = 2 if kind == "lstm" else 1
    x = rng.normal(size=(3, 4, 2))
    states = [rng.normal(size=(3, 3)) for _ in range(n_states)]
    mask = np.array([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]], dtype=bool)
    report = check_layer(_Flat(layer, mask), [x, *states])
    assert report.max_relative_error < 1e-6, report
    assert len([k for k in report.errors if k.startswith("input")]) == 1 + n_states


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru", "gru_before"])
def test_gradient_check_with_both_dropouts(float64, rng, kind):
    layer = _make(kind, 3, 2, rng, return_sequences=True, dropout=0.3, recurrent_dropout=0.4)
    x = rng.normal(size=(3, 4, 2))
    report = check_layer(layer, x, before_forward=lambda: layer.reseed(np.random.default_rng(5)))
    assert report.max_relative_error < 1e-6, report


@pytest.mark.parametrize("activation,recurrent", [("relu", "sigmoid"), ("tanh", "tanh"), ("sigmoid", "linear")])
def test_lstm_and_gru_with_other_activations(float64, rng, activation, recurrent):
    for kind in ("lstm", "gru"):
        layer = _make(kind, 3, 2, rng, activation=activation, recurrent_activation=recurrent,
                      return_sequences=True)
        report = check_layer(layer, rng.normal(size=(2, 3, 2)))
        assert report.max_relative_error < 1e-6, (kind, report)


# -- PyTorch parity -----------------------------------------------------------------------------------------
def _torch_twin(torch, layer, features, bidirectional=False, backward_layer=None):
    """nn.RNN / nn.LSTM / nn.GRU holding the layer's weights: kernel^T -> weight_ih, recurrent_kernel^T ->
    weight_hh; LSTM/RNN bias -> bias_ih and 0 -> bias_hh; GRU blocks z, r, h -> r, z, n, bias[0] -> bias_ih,
    bias[1] -> bias_hh."""
    u = layer.units
    cls = {SimpleRNN: torch.nn.RNN, LSTM: torch.nn.LSTM, GRU: torch.nn.GRU}[type(layer)]
    net = cls(features, u, batch_first=True, bidirectional=bidirectional)

    def order(w):
        return np.concatenate([w[..., u : 2 * u], w[..., :u], w[..., 2 * u :]], axis=-1) if cls is torch.nn.GRU else w

    def load(src, suffix):
        getattr(net, "weight_ih" + suffix).copy_(torch.tensor(order(src.kernel.value).T))
        getattr(net, "weight_hh" + suffix).copy_(torch.tensor(order(src.recurrent_kernel.value).T))
        bias = src.bias.value
        bias_ih, bias_hh = (bias[0], bias[1]) if cls is torch.nn.GRU else (bias, np.zeros_like(bias))
        getattr(net, "bias_ih" + suffix).copy_(torch.tensor(order(bias_ih)))
        getattr(net, "bias_hh" + suffix).copy_(torch.tensor(order(bias_hh)))

    with torch.no_grad():
        load(layer, "_l0")
        if bidirectional:
            load(backward_layer, "_l0_reverse")
    return net, order


def _close(ours, theirs):
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("return_sequences,go_backwards", [(True, False), (False, False), (True, True), (False, True)])
@pytest.mark.parametrize("batch,steps", [(3, 5), (1, 4), (2, 1)])
def test_matches_torch(float64, torch, rng, kind, return_sequences, go_backwards, batch, steps):
    features, u = 4, 3
    layer = _make(kind, u, features, rng, return_sequences=return_sequences, return_state=True,
                  go_backwards=go_backwards)
    n_states = 2 if kind == "lstm" else 1
    x = rng.normal(size=(batch, steps, features))
    states = [rng.normal(size=(batch, u)) for _ in range(n_states)]
    out = layer.forward([x, *states], training=True)
    grads = [rng.normal(size=o.shape) for o in out]
    grads[-1] = None if n_states == 2 else grads[-1]  # an unused output: gradient None (LSTM's c_T)
    grad_inputs = layer.backward(grads)

    net, order = _torch_twin(torch, layer, features)
    xt = torch.tensor(x, requires_grad=True)
    st = [torch.tensor(s[None], requires_grad=True) for s in states]
    seq, final = net(xt.flip(1) if go_backwards else xt, tuple(st) if n_states == 2 else st[0])
    finals = list(final) if n_states == 2 else [final]
    y = seq if return_sequences else seq[:, -1]
    _close(out[0], y.detach().numpy())
    for ours, theirs in zip(out[1:], finals):
        _close(ours, theirs[0].detach().numpy())
    loss = (y * torch.tensor(grads[0])).sum()
    for g, theirs in zip(grads[1:], finals):
        if g is not None:
            loss = loss + (theirs[0] * torch.tensor(g)).sum()
    loss.backward()
    _close(grad_inputs[0], xt.grad.numpy())
    for ours, theirs in zip(grad_inputs[1:], st):
        _close(ours, theirs.grad[0].numpy())
    _close(order(layer.kernel.grad).T, net.weight_ih_l0.grad.numpy())
    _close(order(layer.recurrent_kernel.grad).T, net.weight_hh_l0.grad.numpy())
    bias_grad = layer.bias.grad
    if kind == "gru":
        _close(order(bias_grad[0]), net.bias_ih_l0.grad.numpy())
        _close(order(bias_grad[1]), net.bias_hh_l0.grad.numpy())
    else:
        _close(bias_grad, net.bias_ih_l0.grad.numpy())
        _close(bias_grad, net.bias_hh_l0.grad.numpy())


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_state_gradient_norms_match_torch_cells(float64, torch, rng, kind):
    """||dL/dh_t|| (batch mean) against an unrolled torch cell with h_t.retain_grad()."""
    features, u, batch, steps = 3, 4, 5, 6
    layer = _make(kind, u, features, rng, return_sequences=True)
    x = rng.normal(size=(batch, steps, features))
    grad = rng.normal(size=(batch, steps, u))
    layer.forward(x, training=True)
    layer.backward(grad)
    assert layer.state_grad_norms is None  # off by default: the loop keeps nothing
    layer.record_state_grads = True
    layer.backward(grad)
    cell = (torch.nn.RNNCell if kind == "rnn" else torch.nn.LSTMCell)(features, u)
    with torch.no_grad():
        cell.weight_ih.copy_(torch.tensor(layer.kernel.value.T))
        cell.weight_hh.copy_(torch.tensor(layer.recurrent_kernel.value.T))
        cell.bias_ih.copy_(torch.tensor(layer.bias.value))
        cell.bias_hh.zero_()
    h, c, hs = torch.zeros(batch, u), torch.zeros(batch, u), []
    for t in range(steps):
        if kind == "rnn":
            h = cell(torch.tensor(x[:, t]), h)
        else:
            h, c = cell(torch.tensor(x[:, t]), (h, c))
        h.retain_grad()
        hs.append(h)
    sum((hh * torch.tensor(grad[:, t])).sum() for t, hh in enumerate(hs)).backward()
    expected = [np.linalg.norm(hh.grad.numpy(), axis=1).mean() for hh in hs]
    np.testing.assert_allclose(layer.state_grad_norms, expected, rtol=1e-10)
    assert layer.state_grad_norms.shape == (steps,)


# -- masks: the same as running each sample on its unpadded length --------------------------------------------
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("go_backwards", [False, True])
def test_mask_equals_the_unpadded_sequences(float64, rng, kind, go_backwards):
    features, u, steps = 3, 4, 5
    lengths = [5, 2, 3, 1]
    layer = _make(kind, u, features, rng, return_sequences=True, return_state=True, go_backwards=go_backwards)
    x = rng.normal(size=(len(lengths), steps, features))  # padding holds noise: it must be ignored
    mask = np.arange(steps)[None, :] < np.array(lengths)[:, None]
    out = layer.forward(x, training=True, mask=mask)
    grad_h = rng.normal(size=(len(lengths), u))
    grad_x = layer.backward([np.zeros_like(out[0]), grad_h] + [None] * (len(out) - 2))
    kernel_grad = layer.kernel.grad.copy()
    expected_kernel_grad = np.zeros_like(kernel_grad)
    for i, n in enumerate(lengths):
        ref = layer.forward(x[i : i + 1, :n], training=True)
        seq = ref[0][0]
        _close(out[1][i], ref[1][0])  # the final state is the state after the last real step
        if go_backwards:  # processing order: the padded steps come first and output the initial zeros
            _close(out[0][i, steps - n :], seq)
            _close(out[0][i, : steps - n], 0.0 * out[0][i, : steps - n])
        else:  # a masked step repeats the previous output
            _close(out[0][i, :n], seq)
            _close(out[0][i, n:], np.broadcast_to(seq[-1], (steps - n, u)))
        ref_grad = layer.backward([np.zeros_like(ref[0]), grad_h[i : i + 1]] + [None] * (len(ref) - 2))
        _close(grad_x[i, :n], ref_grad[0])
        _close(grad_x[i, n:], 0.0 * grad_x[i, n:])
        expected_kernel_grad += layer.kernel.grad
    _close(kernel_grad, expected_kernel_grad)


# -- GRU reset_after=False against its equations in NumPy ------------------------------------------------------
def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def test_gru_reset_before_matches_the_equations(float64, rng):
    u, features, batch, steps = 3, 2, 4, 5
    layer = _make("gru_before", u, features, rng, return_sequences=True)
    assert layer.bias.shape == (3 * u,)
    x = rng.normal(size=(batch, steps, features))
    mask = np.ones((batch, steps), dtype=bool)
    mask[1, 3:] = False
    W, U, b = layer.kernel.value, layer.recurrent_kernel.value, layer.bias.value
    h, outs = np.zeros((batch, u)), []
    for t in range(steps):
        xt = x[:, t] @ W + b
        z = _sigmoid(xt[:, :u] + h @ U[:, :u])
        r = _sigmoid(xt[:, u : 2 * u] + h @ U[:, u : 2 * u])
        hh = np.tanh(xt[:, 2 * u :] + (r * h) @ U[:, 2 * u :])
        h_new = z * h + (1 - z) * hh
        h = np.where(mask[:, t : t + 1], h_new, h)
        outs.append(h)
    _close(layer.forward(x, mask=mask), np.stack(outs, axis=1))


def test_gru_reset_after_matches_the_equations_with_a_mask(float64, rng):
    u, features, batch, steps = 3, 2, 3, 4
    layer = _make("gru", u, features, rng)
    assert layer.bias.shape == (2, 3 * u)
    x = rng.normal(size=(batch, steps, features))
    mask = np.array([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 1, 0]], dtype=bool)  # holes too, not just padding
    W, U, (b_in, b_rec) = layer.kernel.value, layer.recurrent_kernel.value, layer.bias.value
    h = np.zeros((batch, u))
    for t in range(steps):
        xt, rt = x[:, t] @ W + b_in, h @ U + b_rec
        z = _sigmoid(xt[:, :u] + rt[:, :u])
        r = _sigmoid(xt[:, u : 2 * u] + rt[:, u : 2 * u])
        hh = np.tanh(xt[:, 2 * u :] + r * rt[:, 2 * u :])
        h = np.where(mask[:, t : t + 1], z * h + (1 - z) * hh, h)
    _close(layer.forward(x, mask=mask), h)


# -- weights, dropout, dtypes, configs, errors -------------------------------------------------------------------
def test_weight_shapes_and_unit_forget_bias():
    lstm = LSTM(5)
    lstm.build((7, 3))
    assert [w.shape for w in lstm.get_weights()] == [(3, 20), (5, 20), (20,)]
    np.testing.assert_array_equal(lstm.bias.value, np.r_[np.zeros(5), np.ones(5), np.zeros(10)])
    gru, rnn = GRU(5), SimpleRNN(5, use_bias=False)
    gru.build((7, 3))
    rnn.build((7, 3))
    assert [w.shape for w in gru.get_weights()] == [(3, 15), (5, 15), (2, 15)]
    assert [w.shape for w in rnn.get_weights()] == [(3, 5), (5, 5)]
    q = lstm.recurrent_kernel.value.astype(np.float64)  # orthogonal rows: (5, 20) Q Q^T = I
    np.testing.assert_allclose(q @ q.T, np.eye(5), atol=1e-6)


def test_dropout_masks_are_fixed_over_time_and_off_at_inference(float64, rng):
    """Linear SimpleRNN with kernel I, recurrent_kernel 0: h_t = x_t * m, so y / x is the input mask."""
    layer = SimpleRNN(3, activation="linear", use_bias=False, return_sequences=True, dropout=0.5, seed=3)
    layer.build((6, 3))
    layer.kernel.value, layer.recurrent_kernel.value = np.eye(3), np.zeros((3, 3))
    x = rng.uniform(1, 2, size=(8, 6, 3))
    ratio = layer.forward(x, training=True) / x
    assert np.all(ratio == ratio[:, :1]), "one mask per sequence, the same at every step"
    assert set(np.unique(ratio)) == {0.0, 2.0}
    _close(layer.forward(x, training=False), x)
    again = SimpleRNN(3, activation="linear", use_bias=False, return_sequences=True, dropout=0.5, seed=3)
    again.build((6, 3))
    again.kernel.value, again.recurrent_kernel.value = np.eye(3), np.zeros((3, 3))
    np.testing.assert_array_equal(again.forward(x, training=True) / x, ratio)


@pytest.mark.parametrize("kind", list(KINDS))
def test_float32_stays_float32(rng, kind):
    layer = KINDS[kind](4, return_sequences=True, return_state=True, dropout=0.1, recurrent_dropout=0.1)
    x = rng.normal(size=(2, 3, 5)).astype(np.float32)
    out = layer.forward(x, training=True)
    assert all(o.dtype == np.float32 for o in out)
    grad_x = layer.backward([np.ones_like(o) for o in out])
    assert grad_x.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in layer.parameters())


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru", "gru_before"])
def test_config_round_trip(float64, rng, kind):
    layer = _make(kind, 3, 2, rng, return_sequences=True, go_backwards=True, dropout=0.2, seed=4)
    clone = gn.layers.deserialize_layer(gn.layers.serialize_layer(layer))
    assert clone.get_config() == layer.get_config()
    clone.build((4, 2))
    clone.set_weights(layer.get_weights())
    x = rng.normal(size=(2, 4, 2))
    _close(clone.forward(x), layer.forward(x))


def test_clear_errors(rng):
    layer = LSTM(3)
    with pytest.raises(gn.errors.ShapeError, match=r"\(batch, timesteps, features\)"):
        layer.forward(np.zeros((2, 5)))
    layer.forward(np.zeros((2, 5, 4)))
    layer.forward(np.zeros((2, 9, 4)))  # timesteps may vary
    with pytest.raises(gn.errors.ShapeError, match="built for 4 features"):
        layer.forward(np.zeros((2, 5, 3)))
    with pytest.raises(gn.errors.ShapeError, match=r"initial state 1 must have shape \(2, 3\)"):
        layer.forward([np.zeros((2, 5, 4)), np.zeros((2, 3)), np.zeros((2, 4))])
    with pytest.raises(gn.errors.ShapeError, match=r"takes x or \[x, h0, c0\]"):
        layer.forward([np.zeros((2, 5, 4)), np.zeros((2, 3))])
    with pytest.raises(gn.errors.ConfigError, match="dropout must be in"):
        GRU(3, dropout=1.0)
    with pytest.raises(gn.errors.StateError):
        SimpleRNN(2).backward(np.zeros((1, 2)))


# -- an LSTM classifier trained 10 Adam steps matches PyTorch step by step --------------------------------------
def test_lstm_classifier_trains_like_torch(float64, torch, rng):
    features, u, classes, batch = 3, 5, 4, 6
    x = rng.normal(size=(batch * 10, 7, features))
    y = rng.integers(0, classes, size=batch * 10)
    model = gn.Sequential([gn.layers.Input(shape=(7, features)), LSTM(u), Dense(classes, activation="softmax")])
    model.compile(optimizer=gn.optimizers.Adam(0.01, epsilon=1e-8), loss="sparse_categorical_crossentropy")
    lstm, dense = model.layers
    net, _ = _torch_twin(torch, lstm, features)
    head = torch.nn.Linear(u, classes)
    with torch.no_grad():
        head.weight.copy_(torch.tensor(dense.kernel.value.T))
        head.bias.copy_(torch.tensor(dense.bias.value))
    net.bias_hh_l0.requires_grad_(False)  # stays 0: ours has one bias, bias_ih
    params = [net.weight_ih_l0, net.weight_hh_l0, net.bias_ih_l0, *head.parameters()]
    opt = torch.optim.Adam(params, lr=0.01, eps=1e-8)
    with model.training_session():
        for step in range(10):
            xb, yb = x[step * batch : (step + 1) * batch], y[step * batch : (step + 1) * batch]
            loss = model.train_step((xb, yb))["loss"]
            opt.zero_grad()
            seq, _ = net(torch.tensor(xb))
            theirs = torch.nn.functional.cross_entropy(head(seq[:, -1]), torch.tensor(yb))
            theirs.backward()
            opt.step()
            np.testing.assert_allclose(loss, theirs.item(), rtol=1e-9)
            np.testing.assert_allclose(lstm.kernel.value.T, net.weight_ih_l0.detach().numpy(), rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(lstm.recurrent_kernel.value.T, net.weight_hh_l0.detach().numpy(), rtol=1e-9,
                                       atol=1e-12)
            np.testing.assert_allclose(lstm.bias.value, net.bias_ih_l0.detach().numpy(), rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(dense.kernel.value.T, head.weight.detach().numpy(), rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(dense.bias.value, head.bias.detach().numpy(), rtol=1e-9, atol=1e-12)

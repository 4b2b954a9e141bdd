"""Recurrent layers in Functional graphs: return_state outputs unpacked, initial_state=[...] (gradient check
through the states, torch parity for h0/c0), save/load, and an LSTM encoder-decoder that trains."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.diagnostics import check_layer
from glassnet.errors import ShapeError
from glassnet.layers import GRU, LSTM, Bidirectional, Dense, Input, SimpleRNN

STATES = {SimpleRNN: 1, LSTM: 2, GRU: 1}


def _seq2seq(cell, units=4, steps_in=5, steps_out=3, features=2, out_units=3):  # type: ignore[no-untyped-def]
    """Encoder ``cell`` (return_state) whose final states start a decoder ``cell`` (return_sequences)."""
    enc_in = Input(shape=(steps_in, features), name="source")
    dec_in = Input(shape=(steps_out, features), name="target_in")
    _, *states = cell(units, return_state=True, name="encoder")(enc_in)
    seq = cell(units, return_sequences=True, name="decoder")(dec_in, initial_state=states)
    return gn.Model(inputs=[enc_in, dec_in], outputs=Dense(out_units, name="readout")(seq))


@pytest.mark.parametrize("cell", [SimpleRNN, LSTM, GRU])
def test_gradients_flow_from_the_decoder_through_the_initial_state_into_the_encoder(float64, rng, cell):
    model = _seq2seq(cell)
    for p in model.parameters():
        p.value = rng.normal(0.0, 0.5, size=p.shape)
    model.input_grad_required = True
    report = check_layer(model, [rng.normal(size=(3, 5, 2)), rng.normal(size=(3, 3, 2))])
    assert report.max_relative_error < 1e-6, report
    assert {"input[0]", "input[1]"} <= set(report.errors)
    encoder = model.get_layer("encoder")
    assert np.abs(encoder.kernel.grad).max() > 0  # reached only through the decoder's initial state


def test_the_summary_names_which_output_of_a_call_feeds_a_layer():
    model = _seq2seq(LSTM)
    calls = dict((layer.name, c) for layer, c in model.connections())
    assert calls["decoder"] == [["target_in", "encoder[1]", "encoder[2]"]]
    lines: list[str] = []
    model.summary(print_fn=lines.append)
    encoder_row = next(line for line in "\n".join(lines).splitlines() if line.startswith("encoder"))
    assert "[(None, 4), (None, 4), (None, 4)]" in encoder_row  # one shape per output, as Keras prints them


def test_return_state_unpacks_into_one_tensor_per_output():
    x = Input(shape=(6, 2))
    outputs = LSTM(3, return_state=True)(x)
    assert [t.shape for t in outputs] == [(3,), (3,), (3,)]
    y, h = GRU(4, return_sequences=True, return_state=True)(x)
    assert y.shape == (6, 4) and h.shape == (4,)


@pytest.mark.parametrize("cell", [SimpleRNN, LSTM, GRU])
def test_initial_state_matches_torch(float64, torch, rng, cell):
    """Graph inputs [x, h0(, c0)] -> [y_seq, h_T(, c_T)] against nn.RNN / nn.LSTM / nn.GRU with (h0, c0)."""
    units, features, batch, steps = 4, 3, 5, 6
    n_states = STATES[cell]
    x_in = Input(shape=(steps, features))
    state_in = [Input(shape=(units,)) for _ in range(n_states)]
    layer = cell(units, return_sequences=True, return_state=True)
    model = gn.Model(inputs=[x_in, *state_in], outputs=layer(x_in, initial_state=state_in))
    for p in model.parameters():
        p.value = rng.normal(0.0, 0.5, size=p.shape)
    x = rng.normal(size=(batch, steps, features))
    states = [rng.normal(size=(batch, units)) for _ in range(n_states)]
    grads = [rng.normal(size=(batch, steps, units))] + [rng.normal(size=(batch, units)) for _ in range(n_states)]
    model.input_grad_required = True
    outs = model.forward([x, *states], training=True)
    grad_inputs = model.backward(grads)

    u = units
    if cell is GRU:  # Keras gate blocks z, r, h -> torch r, z, n; bias rows: input, recurrent

        def order(w):  # type: ignore[no-untyped-def]
            return np.concatenate([w[..., u : 2 * u], w[..., :u], w[..., 2 * u :]], axis=-1)
    else:

        def order(w):  # type: ignore[no-untyped-def]
            return w

    net = {SimpleRNN: torch.nn.RNN, LSTM: torch.nn.LSTM, GRU: torch.nn.GRU}[cell](features, u, batch_first=True)
    with torch.no_grad():
        net.weight_ih_l0.copy_(torch.tensor(order(layer.kernel.value).T))
        net.weight_hh_l0.copy_(torch.tensor(order(layer.recurrent_kernel.value).T))
        bias = layer.bias.value
        net.bias_ih_l0.copy_(torch.tensor(order(bias[0] if cell is GRU else bias)))
        net.bias_hh_l0.copy_(torch.tensor(order(bias[1]) if cell is GRU else np.zeros_like(bias)))
    tx = torch.tensor(x, requires_grad=True)
    ts = [torch.tensor(s[None], requires_grad=True) for s in states]  # (layers = 1, batch, units)
    y, final = net(tx, tuple(ts) if n_states == 2 else ts[0])
    finals = list(final) if n_states == 2 else [final]
    loss = (y * torch.tensor(grads[0])).sum() + sum((f[0] * torch.tensor(g)).sum() for f, g in zip(finals, grads[1:]))
    loss.backward()
    np.testing.assert_allclose(outs[0], y.detach().numpy(), rtol=1e-10, atol=1e-12)
    for ours, theirs in zip(outs[1:], finals):
        np.testing.assert_allclose(ours, theirs[0].detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grad_inputs[0], tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    for ours, theirs in zip(grad_inputs[1:], ts):
        np.testing.assert_allclose(ours, theirs.grad[0].numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(
        order(layer.recurrent_kernel.grad).T, net.weight_hh_l0.grad.numpy(), rtol=1e-9, atol=1e-12
    )


def test_initial_state_on_arrays_and_clear_errors(rng):
    layer = LSTM(3)
    x = rng.normal(size=(2, 4, 5)).astype(np.float32)
    h0, c0 = (rng.normal(size=(2, 3)).astype(np.float32) for _ in range(2))
    np.testing.assert_allclose(layer(x, initial_state=[h0, c0]), layer.forward([x, h0, c0]))
    with pytest.raises(ShapeError, match=r"initial_state must be \[h0, c0\], got 1"):
        layer(x, initial_state=[h0])
    a = Input(shape=(4, 5))
    with pytest.raises(ShapeError, match=r"states of shape \(batch, 3\)"):
        LSTM(3)(a, initial_state=[Input(shape=(2,)), Input(shape=(3,))])


def test_a_graph_with_states_saves_and_loads(tmp_path, rng):
    model = _seq2seq(LSTM)
    model.compile(optimizer="adam", loss="mse")
    xs = [rng.normal(size=(2, 5, 2)).astype(np.float32), rng.normal(size=(2, 3, 2)).astype(np.float32)]
    path = tmp_path / "seq2seq.glassnet"
    model.save(path)
    loaded = gn.load_model(path)
    np.testing.assert_allclose(loaded.predict(xs), model.predict(xs), rtol=1e-6)


def _bidirectional_seq2seq(cell, units=3):  # type: ignore[no-untyped-def]
    """A Bidirectional encoder whose four (LSTM) or two states start a Bidirectional decoder."""
    enc_in, dec_in = Input(shape=(5, 2), name="source"), Input(shape=(3, 2), name="target_in")
    _, *states = Bidirectional(cell(units, return_state=True), name="encoder")(enc_in)
    seq = Bidirectional(cell(units, return_sequences=True), name="decoder")(dec_in, initial_state=states)
    return gn.Model(inputs=[enc_in, dec_in], outputs=Dense(2, name="readout")(seq))


@pytest.mark.parametrize("cell", [LSTM, GRU])
def test_bidirectional_initial_state_in_a_graph(float64, rng, tmp_path, cell):
    """Each direction starts from its half of initial_state: the decoder equals its two inner layers run
    by hand from the encoder's states; gradients reach the encoder through the states; save/load."""
    model = _bidirectional_seq2seq(cell)
    for p in model.parameters():
        p.value = rng.normal(0.0, 0.5, size=p.shape)
    xs = [rng.normal(size=(3, 5, 2)), rng.normal(size=(3, 3, 2))]
    encoder, decoder = model.get_layer("encoder"), model.get_layer("decoder")
    _, *states = encoder.forward(xs[0])
    n = len(states) // 2
    y_f = decoder.forward_layer.forward([xs[1], *states[:n]])
    y_b = decoder.backward_layer.forward([xs[1], *states[n:]])[:, ::-1]
    np.testing.assert_allclose(decoder.forward([xs[1], *states]), np.concatenate([y_f, y_b], axis=-1), rtol=1e-12)
    model.input_grad_required = True
    report = check_layer(model, xs)
    assert report.max_relative_error < 1e-6, report
    assert np.abs(encoder.forward_layer.kernel.grad).max() > 0  # reached only through the decoder's states
    model.compile(optimizer="adam", loss="mse")
    model.save(tmp_path / "bi.glassnet")
    np.testing.assert_allclose(gn.load_model(tmp_path / "bi.glassnet").predict(xs), model.predict(xs), rtol=1e-10)
    with pytest.raises(ShapeError, match=r"initial_state must hold 4 states|initial_state must hold 2 states"):
        Bidirectional(cell(3))(Input(shape=(3, 2)), initial_state=[Input(shape=(3,))])


def _reverse_data(rng, n, length=5, digits=6):  # type: ignore[no-untyped-def]
    """Source digit strings, the decoder's input (the target shifted right behind a start token), the target."""
    src = rng.integers(0, digits, size=(n, length))
    tgt = src[:, ::-1]
    eye = np.eye(digits + 1, dtype=np.float32)
    dec_in = np.concatenate([np.full((n, 1), digits), tgt[:, :-1]], axis=1)
    return [eye[src][..., :digits], eye[dec_in]], tgt


@pytest.mark.slow
def test_an_lstm_encoder_decoder_learns_to_reverse_digit_strings():
    """Teacher-forced seq2seq (encoder states -> decoder initial_state): per-digit accuracy far above chance."""
    rng = np.random.default_rng(0)
    length, digits = 5, 6
    enc_in = Input(shape=(length, digits))
    dec_in = Input(shape=(length, digits + 1))
    _, h, c = LSTM(48, return_state=True)(enc_in)
    seq = LSTM(48, return_sequences=True)(dec_in, initial_state=[h, c])
    model = gn.Model(inputs=[enc_in, dec_in], outputs=Dense(digits, activation="softmax")(seq))
    model.compile(optimizer=gn.optimizers.Adam(1e-2, global_clipnorm=1.0), loss="sparse_categorical_crossentropy")
    x, y = _reverse_data(rng, 3000, length, digits)
    x_test, y_test = _reverse_data(rng, 500, length, digits)
    model.fit(x, y, epochs=12, batch_size=50, verbose=0, seed=0)
    accuracy = float((model.predict(x_test).argmax(-1) == y_test).mean())
    assert accuracy > 0.9, accuracy  # chance 1/6; the decoder alone cannot know the source

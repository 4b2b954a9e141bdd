"""BatchNormalization and LayerNormalization: gradients, PyTorch parity, moving statistics, summary counts."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.diagnostics.gradcheck import check_layer
from glassnet.layers import BatchNormalization, Dense, Input, LayerNormalization


def _randomize_affine(layer, rng):
    for name in ("gamma", "beta"):
        if hasattr(layer, name):
            getattr(layer, name).value = rng.normal(size=getattr(layer, name).shape)


@pytest.mark.parametrize("center,scale", [(True, True), (False, True), (True, False)])
def test_batchnorm_gradient_check_training_mode(float64, rng, center, scale):
    layer = BatchNormalization(center=center, scale=scale)
    x = rng.normal(2.0, 3.0, size=(6, 4))
    layer.build(x.shape[1:])
    _randomize_affine(layer, rng)
    report = check_layer(layer, x)
    assert report.max_relative_error < 1e-6, report


def test_batchnorm_gradient_check_on_channels_last_input(float64, rng):
    layer = BatchNormalization()
    x = rng.normal(size=(3, 5, 4))  # (batch, time, channels): statistics over batch and time
    layer.build(x.shape[1:])
    _randomize_affine(layer, rng)
    report = check_layer(layer, x)
    assert report.max_relative_error < 1e-6, report


def test_batchnorm_matches_torch_forward_backward_and_running_statistics(float64, torch, rng):
    """torch momentum = 1 - ours. torch's running_var uses the unbiased batch variance var_B * n/(n-1),
    ours the biased one, so with both starting at 1 and a constant batch size n, after k steps
    ours = m**k + (torch - m**k) * (n - 1) / n."""
    n, c, steps, momentum = 8, 5, 4, 0.9
    ours = BatchNormalization(momentum=momentum, epsilon=1e-3)
    ours.build((c,))
    _randomize_affine(ours, rng)
    theirs = torch.nn.BatchNorm1d(c, eps=1e-3, momentum=1 - momentum)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.gamma.value))
        theirs.bias.copy_(torch.tensor(ours.beta.value))
    for _ in range(steps):
        x = rng.normal(1.0, 2.0, size=(n, c))
        grad = rng.normal(size=(n, c))
        y = ours.forward(x, training=True)
        grad_x = ours.backward(grad)
        xt = torch.tensor(x, requires_grad=True)
        theirs.weight.grad = theirs.bias.grad = None
        yt = theirs(xt)
        yt.backward(torch.tensor(grad))
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(grad_x, xt.grad.numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(ours.gamma.grad, theirs.weight.grad.numpy(), rtol=1e-10)
        np.testing.assert_allclose(ours.beta.grad, theirs.bias.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(ours.moving_mean.value, theirs.running_mean.numpy(), rtol=1e-12)
    decay = momentum**steps
    converted = decay + (theirs.running_var.numpy() - decay) * (n - 1) / n
    np.testing.assert_allclose(ours.moving_variance.value, converted, rtol=1e-12)
    theirs.eval()
    with torch.no_grad():  # inference: same formula once both hold the same (biased) statistics
        theirs.running_var.copy_(torch.tensor(ours.moving_variance.value))
    x = rng.normal(size=(3, c))
    np.testing.assert_allclose(
        ours.forward(x, training=False), theirs(torch.tensor(x)).detach().numpy(), rtol=1e-10
    )


def test_batchnorm_moving_statistics_follow_the_recurrence_and_drive_inference(float64, rng):
    layer = BatchNormalization(momentum=0.8, epsilon=1e-2)
    mean, var = np.zeros(3), np.ones(3)
    for _ in range(3):
        x = rng.normal(3.0, 2.0, size=(10, 3))
        layer.forward(x, training=True)
        mean = 0.8 * mean + 0.2 * x.mean(axis=0)
        var = 0.8 * var + 0.2 * x.var(axis=0)  # biased (ddof=0)
    np.testing.assert_allclose(layer.moving_mean.value, mean)
    np.testing.assert_allclose(layer.moving_variance.value, var)
    layer.gamma.value = [1.0, 2.0, -1.0]
    layer.beta.value = [0.0, 0.5, 1.0]
    x = rng.normal(size=(4, 3))
    expected = layer.gamma.value * (x - mean) / np.sqrt(var + 1e-2) + layer.beta.value
    np.testing.assert_allclose(layer.forward(x, training=False), expected)
    assert layer.cache == {}


def test_batchnorm_training_output_is_normalized(rng):
    x = rng.normal(5.0, 4.0, size=(64, 3)).astype(np.float32)
    y = BatchNormalization(epsilon=1e-5).forward(x, training=True)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=0), 1.0, rtol=1e-4)


def test_batchnorm_parameters_names_and_trainability():
    layer = BatchNormalization(name="bn")
    layer.build((64,))
    params = {p.name: p.trainable for p in layer.parameters()}
    assert params == {"bn/gamma": True, "bn/beta": True, "bn/moving_mean": False, "bn/moving_variance": False}
    assert [p.name for p in layer.parameters(trainable_only=True)] == ["bn/gamma", "bn/beta"]


def test_summary_counts_trainable_and_non_trainable(capsys):
    model = gn.Sequential([Input(shape=(10,)), Dense(64), BatchNormalization()])
    model.summary()
    text = capsys.readouterr().out
    bn_row = next(line for line in text.splitlines() if "BatchNormalization" in line)
    assert bn_row.split()[-1] == "256"
    assert "Total params: 960" in text  # 10*64 + 64 + 4*64
    assert "Trainable params: 832" in text
    assert "Non-trainable params: 128" in text


def test_fit_updates_moving_stats_by_the_recurrence_not_by_the_optimizer(rng):
    model = gn.Sequential([Input(shape=(3,)), Dense(4), BatchNormalization(momentum=0.5), Dense(1)])
    model.compile(optimizer=gn.optimizers.SGD(learning_rate=0.5), loss="mse")
    assert all(p.trainable for p in model._pack.params)  # moving statistics are not packed
    x = rng.normal(size=(32, 3)).astype(np.float32)
    hidden = model.layers[0].forward(x)  # the first (only) full-batch step sees the initial weights
    model.fit(x, x[:, :1], epochs=1, batch_size=32, shuffle=False, verbose=0)
    bn = model.layers[1]
    assert bn.moving_mean.value.dtype == np.float32
    np.testing.assert_allclose(bn.moving_mean.value, 0.5 * hidden.mean(axis=0), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(bn.moving_variance.value, 0.5 + 0.5 * hidden.var(axis=0), rtol=1e-5)


def test_batchnorm_model_save_and_load_keeps_moving_statistics(tmp_path, rng):
    model = gn.Sequential([Input(shape=(3,)), Dense(4), BatchNormalization(), Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    x = rng.normal(size=(20, 3)).astype(np.float32)
    model.fit(x, rng.normal(size=(20, 2)), epochs=2, verbose=0, seed=0)
    model.save(tmp_path / "bn.glassnet")
    loaded = gn.load_model(tmp_path / "bn.glassnet")
    np.testing.assert_array_equal(
        loaded.layers[1].moving_variance.value, model.layers[1].moving_variance.value
    )
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


@pytest.mark.parametrize("kwargs", [{"momentum": 1.5}, {"epsilon": 0.0}, {"epsilon": -1e-3}])
def test_batchnorm_bad_settings_are_refused(kwargs):
    with pytest.raises(gn.ConfigError, match=next(iter(kwargs))):
        BatchNormalization(**kwargs)


def test_layernorm_gradient_check(float64, rng):
    layer = LayerNormalization()
    x = rng.normal(1.0, 2.0, size=(3, 2, 5))
    layer.build(x.shape[1:])
    _randomize_affine(layer, rng)
    report = check_layer(layer, x)
    assert report.max_relative_error < 1e-6, report


def test_layernorm_matches_torch(float64, torch, rng):
    ours = LayerNormalization(epsilon=1e-3)
    ours.build((6,))
    _randomize_affine(ours, rng)
    theirs = torch.nn.LayerNorm(6, eps=1e-3)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.gamma.value))
        theirs.bias.copy_(torch.tensor(ours.beta.value))
    x = rng.normal(2.0, 3.0, size=(4, 3, 6))
    grad = rng.normal(size=x.shape)
    y = ours.forward(x, training=True)
    grad_x = ours.backward(grad)
    xt = torch.tensor(x, requires_grad=True)
    yt = theirs(xt)
    yt.backward(torch.tensor(grad))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grad_x, xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.gamma.grad, theirs.weight.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(ours.beta.grad, theirs.bias.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(ours.forward(x, training=False), y)


@pytest.mark.parametrize("center,scale", [(True, True), (False, True), (True, False)])
def test_layernorm_matches_the_formula_on_large_inputs(float64, rng, center, scale):
    """(rows x features) past the small-array path of layers._sums; formula written out in NumPy."""
    layer = LayerNormalization(epsilon=1e-5, center=center, scale=scale)
    layer.build((9, 70))
    _randomize_affine(layer, rng)
    x = rng.normal(1.0, 2.0, size=(8, 9, 70))
    g = rng.normal(size=x.shape)
    y = layer.forward(x, training=True)
    grad_x = layer.backward(g)
    gamma = layer.gamma.value if scale else np.ones(70)
    beta = layer.beta.value if center else np.zeros(70)
    mu = x.mean(axis=-1, keepdims=True)
    s = 1.0 / np.sqrt(((x - mu) ** 2).mean(axis=-1, keepdims=True) + 1e-5)
    x_hat = (x - mu) * s
    np.testing.assert_allclose(y, gamma * x_hat + beta, rtol=1e-12, atol=1e-12)
    gx = g * gamma
    expected = s * (gx - gx.mean(axis=-1, keepdims=True) - x_hat * (gx * x_hat).mean(axis=-1, keepdims=True))
    np.testing.assert_allclose(grad_x, expected, rtol=1e-10, atol=1e-12)
    if scale:
        np.testing.assert_allclose(layer.gamma.grad, (g * x_hat).sum(axis=(0, 1)), rtol=1e-12)
    if center:
        np.testing.assert_allclose(layer.beta.grad, g.sum(axis=(0, 1)), rtol=1e-12)


def test_layernorm_keeps_float32_and_normalizes_each_sample(rng):
    x = rng.normal(3.0, 5.0, size=(7, 16)).astype(np.float32)
    y = LayerNormalization(epsilon=1e-6).forward(x, training=True)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.mean(axis=-1), 0.0, atol=1e-5)
    np.testing.assert_allclose(y.std(axis=-1), 1.0, rtol=1e-4)


def test_deep_batchnorm_model_trains_like_torch(float64, torch, rng):
    """Five SGD-with-momentum steps of Dense -> BN -> ReLU (x3) -> softmax agree with PyTorch step by step."""
    layers = [Input(shape=(5,))]
    for _ in range(3):
        layers += [Dense(4, use_bias=False), BatchNormalization(momentum=0.9), gn.layers.ReLU()]
    layers.append(Dense(3, activation="softmax"))
    model = gn.Sequential(layers)
    model.compile(gn.optimizers.SGD(learning_rate=0.1, momentum=0.9), "sparse_categorical_crossentropy")
    reference = []
    for layer in model.layers:
        if isinstance(layer, Dense):
            linear = torch.nn.Linear(layer.kernel.shape[0], layer.units, bias=layer.use_bias)
            with torch.no_grad():
                linear.weight.copy_(torch.tensor(layer.kernel.value.T))
                if layer.use_bias:
                    linear.bias.copy_(torch.tensor(layer.bias.value))
            reference.append(linear)
        elif isinstance(layer, BatchNormalization):
            reference.append(torch.nn.BatchNorm1d(4, eps=1e-3, momentum=0.1))
        else:
            reference.append(torch.nn.ReLU())
    torch_model = torch.nn.Sequential(*reference)
    optimizer = torch.optim.SGD(torch_model.parameters(), lr=0.1, momentum=0.9)
    x, y = rng.normal(size=(16, 5)), rng.integers(0, 3, size=16)
    for _ in range(5):
        ours = model.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0).history["loss"][0]
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(torch_model(torch.tensor(x)), torch.tensor(y))
        loss.backward()
        optimizer.step()
        assert ours == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(
        model.layers[0].kernel.value, reference[0].weight.detach().numpy().T, rtol=1e-10
    )
    np.testing.assert_allclose(
        model.layers[1].moving_mean.value, reference[1].running_mean.numpy(), rtol=1e-10
    )

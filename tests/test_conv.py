"""Conv1D, Conv2D, Conv2DTranspose: PyTorch parity over a grid, gradient checks, shapes, dtypes, errors.

Layout conversions, written out once:
    images   NHWC (n, h, w, c)               <->  torch NCHW: x.transpose(0, 3, 1, 2)
    Conv2D   kernel (kh, kw, c / groups, f)  ->  Conv2d weight (f, c / groups, kh, kw): .transpose(3, 2, 0, 1)
    Conv1D   kernel (k, c / groups, f)       ->  Conv1d weight (f, c / groups, k): .transpose(2, 1, 0)
    Conv2DTranspose kernel (kh, kw, f, c) ->  ConvTranspose2d weight (c, f, kh, kw): .transpose(3, 2, 0, 1)
"""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.diagnostics import check_layer

L = gn.layers
OTHER_SIDE = {1: 2, 2: 3, 3: 1, 5: 3}  # non-square kernels: (k, OTHER_SIDE[k])


def tf_same(n: int, k: int, s: int, d: int = 1) -> tuple[int, int]:
    """TF/Keras "same": total = max((ceil(n / s) - 1) s + (k - 1) d + 1 - n, 0), the smaller half before."""
    total = max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
    return total // 2, total - total // 2


def rel(a, b) -> float:
    """max |a - b| / max |b|: relative to the tensor's scale, so a near-zero entry cannot fail by round-off."""
    return float(np.abs(np.asarray(a) - np.asarray(b)).max() / max(np.abs(b).max(), 1e-300))


def nchw(a):
    return a.transpose(0, 3, 1, 2)


def nhwc(t):
    return t.detach().numpy().transpose(0, 2, 3, 1)


def random_bias(layer, rng) -> None:
    layer.bias.value = rng.normal(size=layer.bias.shape)


def conv2d_case(torch, rng, k, s, padding, d, groups, size, batch):
    kernel_size, strides = (k, OTHER_SIDE[k]), (s, max(1, s - 1))
    layer = L.Conv2D(8, kernel_size, strides=strides, padding=padding, dilation_rate=d, groups=groups)
    x = rng.normal(size=(batch, *size, 4))
    layer.build(x.shape[1:])
    random_bias(layer, rng)
    y = layer.forward(x, training=True)
    g = rng.normal(size=y.shape)
    gx = layer.backward(g)

    F = torch.nn.functional
    xt = torch.tensor(nchw(x), requires_grad=True)
    wt = torch.tensor(layer.kernel.value.transpose(3, 2, 0, 1), requires_grad=True)
    bt = torch.tensor(layer.bias.value, requires_grad=True)
    (top, bottom), (left, right) = ((0, 0), (0, 0)) if padding == "valid" else (
        tf_same(size[0], kernel_size[0], strides[0], d), tf_same(size[1], kernel_size[1], strides[1], d))
    yt = F.conv2d(F.pad(xt, (left, right, top, bottom)), wt, bt, stride=strides, dilation=d, groups=groups)
    yt.backward(torch.tensor(nchw(g)))
    assert y.shape == nhwc(yt).shape == (batch,) + layer.output_shape
    assert rel(y, nhwc(yt)) < 1e-10
    assert rel(gx, nhwc(xt.grad)) < 1e-10
    assert rel(layer.kernel.grad, wt.grad.numpy().transpose(2, 3, 1, 0)) < 1e-10
    assert rel(layer.bias.grad, bt.grad.numpy()) < 1e-10


GRID = [(k, s, d) for k in (1, 2, 3, 5) for s in (1, 2, 3) for d in (1, 2) if s == 1 or d == 1]


@pytest.mark.parametrize("k,s,d", GRID)
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_conv2d_matches_pytorch_over_the_grid(k, s, d, padding, rng, float64, torch):
    # groups 1/2/4, odd/even and non-square sizes, batch 1 and 2: one torch call each
    for groups, size, batch in ((1, (10, 11), 2), (2, (9, 12), 1), (4, (11, 10), 2)):
        conv2d_case(torch, rng, k, s, padding, d, groups, size, batch)


@pytest.mark.parametrize("k,s,d", GRID)
@pytest.mark.parametrize("padding", ["valid", "same", "causal"])
def test_conv1d_matches_pytorch(k, s, d, padding, rng, float64, torch):
    for groups, length, batch in ((1, 13, 2), (2, 12, 1)):
        layer = L.Conv1D(4, k, strides=s, padding=padding, dilation_rate=d, groups=groups)
        x = rng.normal(size=(batch, length, 4))
        layer.build(x.shape[1:])
        random_bias(layer, rng)
        y = layer.forward(x, training=True)
        g = rng.normal(size=y.shape)
        gx = layer.backward(g)
        F = torch.nn.functional
        xt = torch.tensor(x.transpose(0, 2, 1), requires_grad=True)
        wt = torch.tensor(layer.kernel.value.transpose(2, 1, 0), requires_grad=True)
        bt = torch.tensor(layer.bias.value, requires_grad=True)
        pads = {"valid": (0, 0), "same": tf_same(length, k, s, d), "causal": ((k - 1) * d, 0)}[padding]
        yt = F.conv1d(F.pad(xt, pads), wt, bt, stride=s, dilation=d, groups=groups)
        yt.backward(torch.tensor(g.transpose(0, 2, 1)))
        y_ref = yt.detach().numpy().transpose(0, 2, 1)
        assert y.shape == y_ref.shape == (batch,) + layer.output_shape
        assert rel(y, y_ref) < 1e-10 and rel(gx, xt.grad.numpy().transpose(0, 2, 1)) < 1e-10
        assert rel(layer.kernel.grad, wt.grad.numpy().transpose(2, 1, 0)) < 1e-10
        assert rel(layer.bias.grad, bt.grad.numpy()) < 1e-10


@pytest.mark.parametrize("k,s,d", GRID)
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_conv2d_transpose_matches_pytorch(k, s, d, padding, rng, float64, torch):
    """Keras sizes: "valid" n s + max(k_eff - s, 0), "same" n s (k_eff - s border rows cut, smaller half first).

    torch side: the full ConvTranspose2d output ((n - 1) s + k_eff, plus output_padding s - k_eff where the
    kernel is shorter than the stride), then the Keras crop by hand."""
    kernel_size = (k, OTHER_SIDE[k])
    for size, batch in (((4, 5), 2), ((5, 3), 1)):
        layer = L.Conv2DTranspose(3, kernel_size, strides=s, padding=padding, dilation_rate=d)
        x = rng.normal(size=(batch, *size, 2))
        layer.build(x.shape[1:])
        random_bias(layer, rng)
        y = layer.forward(x, training=True)
        g = rng.normal(size=y.shape)
        gx = layer.backward(g)
        crops, output_padding = [], []
        for n, kk in zip(size, kernel_size):
            k_eff = (kk - 1) * d + 1
            extra = max(k_eff - s, 0)
            length = n * s + (extra if padding == "valid" else 0)
            crops.append(slice(0 if padding == "valid" else extra // 2, None))
            crops[-1] = slice(crops[-1].start, crops[-1].start + length)
            output_padding.append(max(s - k_eff, 0))
        xt = torch.tensor(nchw(x), requires_grad=True)
        wt = torch.tensor(layer.kernel.value.transpose(3, 2, 0, 1), requires_grad=True)
        bt = torch.tensor(layer.bias.value, requires_grad=True)
        full = torch.nn.functional.conv_transpose2d(xt, wt, None, stride=s, dilation=d,
                                                    output_padding=tuple(output_padding))
        yt = full[:, :, crops[0], crops[1]] + bt[None, :, None, None]
        yt.backward(torch.tensor(nchw(g)))
        assert y.shape == nhwc(yt).shape == (batch,) + layer.output_shape
        assert rel(y, nhwc(yt)) < 1e-10 and rel(gx, nhwc(xt.grad)) < 1e-10
        assert rel(layer.kernel.grad, wt.grad.numpy().transpose(2, 3, 1, 0)) < 1e-10
        assert rel(layer.bias.grad, bt.grad.numpy()) < 1e-10


@pytest.mark.parametrize("make,shape", [
    (lambda: L.Conv2D(3, (3, 2), strides=(2, 1), padding="same", activation="tanh"), (2, 5, 6, 2)),
    (lambda: L.Conv2D(4, 2, dilation_rate=2, groups=2, activation="relu"), (2, 6, 5, 4)),
    (lambda: L.Conv2D(2, 1, use_bias=False), (1, 3, 3, 3)),
    (lambda: L.Conv2D(3, 3, padding="same", activation="softmax"), (2, 4, 4, 2)),
    (lambda: L.Conv1D(3, 3, strides=2, padding="same", activation="sigmoid"), (2, 7, 2)),
    (lambda: L.Conv1D(2, 2, dilation_rate=2, padding="causal"), (2, 6, 2)),
    (lambda: L.Conv2DTranspose(2, 3, strides=2, padding="same", activation="tanh"), (2, 3, 4, 2)),
    (lambda: L.Conv2DTranspose(2, (2, 3), strides=(1, 2), padding="valid"), (1, 3, 3, 3)),
])
def test_conv_passes_gradient_check(make, shape, rng, float64):
    layer = make()
    report = check_layer(layer, rng.normal(size=shape))
    assert report.passed, report
    assert set(report.errors) == {"input"} | {p.name for p in layer.parameters()}


def test_keras_weight_layouts_defaults_and_names():
    conv = L.Conv2D(16, 3)
    conv.build((8, 8, 6))
    assert [w.shape for w in conv.get_weights()] == [(3, 3, 6, 16), (16,)]
    assert (conv.strides, conv.padding, conv.dilation_rate, conv.groups, conv.name) == ((1, 1), "valid", (1, 1), 1,
                                                                                        "conv2d")
    grouped = L.Conv2D(8, (3, 1), groups=2)
    grouped.build((8, 8, 6))
    assert grouped.kernel.shape == (3, 1, 3, 8)
    conv1d = L.Conv1D(5, 4)
    conv1d.build((10, 2))
    assert conv1d.kernel.shape == (4, 2, 5) and conv1d.output_shape == (7, 5)
    transpose = L.Conv2DTranspose(5, (2, 3), strides=2)
    transpose.build((4, 4, 7))
    assert transpose.kernel.shape == (2, 3, 5, 7) and transpose.output_shape == (8, 9, 5)
    assert L.Conv2DTranspose(5, 3, strides=2, padding="same").compute_output_shape((4, 6, 7)) == (8, 12, 5)


def test_glorot_fans_use_the_receptive_field(rng):
    conv = L.Conv2D(64, 3)
    conv.build((5, 5, 32))
    limit = np.sqrt(6.0 / (9 * 32 + 9 * 64))
    assert np.abs(conv.kernel.value).max() <= limit and np.abs(conv.kernel.value).max() > 0.9 * limit


def test_mnist_convnet_summary_matches_keras():
    model = gn.Sequential([
        L.Input(shape=(28, 28, 1)), L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(2),
        L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(2), L.Flatten(), L.Dropout(0.5),
        L.Dense(10, activation="softmax"),
    ])
    lines: list[str] = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    for row in ("conv2d (Conv2D)", "(None, 26, 26, 32)", "(None, 13, 13, 32)", "conv2d_1 (Conv2D)",
                "(None, 11, 11, 64)", "(None, 5, 5, 64)", "(None, 1600)", "Total params: 34,826"):
        assert row in text, text
    assert [layer.count_params() for layer in model.layers] == [320, 0, 18496, 0, 0, 0, 16010]


def test_config_round_trip_rebuilds_the_same_layer(rng):
    for layer in (L.Conv2D(4, (3, 2), strides=(2, 1), padding="same", activation="relu", groups=2,
                           kernel_regularizer="l2", use_bias=False),
                  L.Conv1D(3, 5, padding="causal", dilation_rate=2),
                  L.Conv2DTranspose(2, 3, strides=2, padding="same", activation="sigmoid")):
        clone = L.deserialize_layer(L.serialize_layer(layer))
        assert type(clone) is type(layer) and clone.get_config() == layer.get_config()
    conv = L.Conv2D(3, 3, activation="relu")
    x = rng.normal(size=(2, 6, 6, 2)).astype(np.float32)
    y = conv.forward(x)
    clone = L.deserialize_layer(L.serialize_layer(conv))
    clone.build(x.shape[1:])
    clone.set_weights(conv.get_weights())
    np.testing.assert_array_equal(clone.forward(x), y)


def test_float32_stays_float32_and_caches_only_what_backward_needs(rng):
    for layer, shape in ((L.Conv2D(4, 3, padding="same", activation="relu"), (1, 6, 7, 2)),
                         (L.Conv1D(4, 3), (1, 9, 2)), (L.Conv2DTranspose(3, 2, strides=2), (1, 3, 3, 2))):
        x = rng.normal(size=shape).astype(np.float32)
        y = layer.forward(x, training=True)
        assert y.dtype == np.float32 and y.shape[0] == 1
        grad = layer.backward(np.ones_like(y))
        assert grad.dtype == np.float32 and grad.shape == x.shape
        assert all(p.grad.dtype == np.float32 for p in layer.parameters())
        layer.forward(x, training=False)
        assert layer.cache == {}
    conv = L.Conv2D(2, 3)
    conv.forward(rng.normal(size=(2, 5, 5, 1)).astype(np.float32), training=True)
    assert set(conv.cache) == {"cols", "a", "x_shape"}
    # N Ho Wo (kh kw C + 1) float32: the narrow patch matrix carries a column of ones for the bias
    assert conv.cache["cols"].nbytes == 2 * 3 * 3 * (9 * 1 + 1) * 4
    wide = L.Conv2D(2, 3)  # kh kw C = 72: no bias column
    wide.forward(rng.normal(size=(2, 5, 5, 8)).astype(np.float32), training=True)
    assert wide.cache["cols"].nbytes == 2 * 3 * 3 * 9 * 8 * 4


def test_input_gradient_is_skipped_when_not_required(rng):
    conv = L.Conv2D(3, 3)
    x = rng.normal(size=(2, 5, 5, 2))
    y = conv.forward(x, training=True)
    conv.backward(np.ones_like(y))
    grad_kernel = conv.kernel.grad.copy()
    conv.input_grad_required = False
    assert conv.backward(np.ones_like(y)) is None
    np.testing.assert_array_equal(conv.kernel.grad, grad_kernel)


def test_conv_with_activation_trains_in_sequential_like_dense(rng, float64):
    """A conv layer last, with softmax over channels, takes the loss's fused gradient (backward_preactivation)."""
    model = gn.Sequential([L.Input(shape=(4, 4, 2)), L.Conv2D(3, 4, activation="softmax"), L.Flatten()])
    conv = model.layers[0]
    assert conv.output_activation == "softmax"
    head = gn.Sequential([L.Input(shape=(4, 4, 2)), L.Conv2D(3, 4), L.Flatten(), L.Dense(3, activation="softmax")])
    head.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x, y = rng.normal(size=(8, 4, 4, 2)), rng.integers(0, 3, 8)
    first = head.evaluate(x, y)["loss"]
    head.fit(x, y, epochs=20, batch_size=8, verbose=0)
    assert head.evaluate(x, y)["loss"] < first


@pytest.mark.parametrize("make,shape,error,match", [
    (lambda: L.Conv2D(4, 3, strides=2, dilation_rate=2), None, gn.ConfigError, r"Conv2D: strides > 1 .*dilation"),
    (lambda: L.Conv2D(6, 3, groups=4), None, gn.ConfigError, r"filters \(6\) must be divisible by groups \(4\)"),
    (lambda: L.Conv2D(4, 3, groups=4), (8, 8, 6), gn.ShapeError,
     r"'conv2d' \(Conv2D\): input channels \(6\) must be divisible by groups \(4\); hint"),
    (lambda: L.Conv2D(4, 5), (4, 6, 1), gn.ShapeError,
     r"kernel \(dilated size \(5, 5\)\) is larger than the padded input \(4, 6\).*hint: use padding='same'"),
    (lambda: L.Conv2D(4, 3, dilation_rate=3), (6, 6, 1), gn.ShapeError, r"dilated size \(7, 7\)"),
    (lambda: L.Conv2D(4, 3), (28, 28), gn.ShapeError,
     r"expects input of shape \(batch, height, width, channels\), got \(batch, 28, 28\); hint: add a channel"),
    (lambda: L.Conv1D(4, 3), (5, 5, 2), gn.ShapeError, r"Conv1D\) expects input of shape \(batch, steps, channels\)"),
    (lambda: L.Conv2D(4, (3, 3, 3)), None, gn.ConfigError, r"kernel_size must be a positive int or a tuple of 2"),
    (lambda: L.Conv2D(4, 3, padding="full"), None, gn.ConfigError, r"padding must be one of 'valid', 'same'"),
    (lambda: L.Conv2D(0, 3), None, gn.ConfigError, r"filters must be a positive integer"),
    (lambda: L.Conv2DTranspose(4, 3, groups=2), None, gn.ConfigError, r"groups is not supported"),
])
def test_wrong_configurations_get_clear_errors(make, shape, error, match):
    with pytest.raises(error, match=match):
        layer = make()
        layer.build(shape)


def test_small_cnn_matches_pytorch_for_ten_adam_steps(rng, float64, torch):
    """Conv2D-ReLU, MaxPool, Flatten, Dense-softmax from identical weights: every step's weights match."""
    from torch import nn

    model = gn.Sequential([L.Input(shape=(8, 7, 2)), L.Conv2D(4, 3, padding="same", activation="relu"),
                           L.MaxPooling2D(2), L.Flatten(), L.Dense(3, activation="softmax")])
    model.compile(optimizer=gn.optimizers.Adam(learning_rate=0.01, epsilon=1e-8),
                  loss="sparse_categorical_crossentropy")
    conv, dense = model.layers[0], model.layers[3]
    conv.bias.value = rng.normal(size=4) * 0.1
    x, y = rng.normal(size=(6, 8, 7, 2)), rng.integers(0, 3, 6)

    t_conv, t_dense = nn.Conv2d(2, 4, 3), nn.Linear(4 * 4 * 3, 3)
    with torch.no_grad():
        t_conv.weight.copy_(torch.tensor(conv.kernel.value.transpose(3, 2, 0, 1)))
        t_conv.bias.copy_(torch.tensor(conv.bias.value))
        # Flatten order differs: glassnet flattens (h, w, c), torch (c, h, w); permute the Dense rows
        rows = np.arange(4 * 3 * 4).reshape(4, 3, 4).transpose(2, 0, 1).reshape(-1)  # torch index -> ours
        t_dense.weight.copy_(torch.tensor(dense.kernel.value[rows].T))
        t_dense.bias.copy_(torch.tensor(dense.bias.value))
    params = [t_conv.weight, t_conv.bias, t_dense.weight, t_dense.bias]
    opt = torch.optim.Adam(params, lr=0.01, eps=1e-8)
    xt, yt = torch.tensor(nchw(x)), torch.tensor(y)
    F = torch.nn.functional
    for _ in range(10):
        opt.zero_grad()
        h = F.max_pool2d(F.relu(F.conv2d(F.pad(xt, (1, 1, 1, 1)), t_conv.weight, t_conv.bias)), 2)
        loss = F.cross_entropy(t_dense(h.flatten(1)), yt)
        loss.backward()
        opt.step()
        model.fit(x, y, epochs=1, batch_size=6, shuffle=False, verbose=0)
        assert rel(conv.kernel.value, t_conv.weight.detach().numpy().transpose(2, 3, 1, 0)) < 1e-9
        assert rel(conv.bias.value, t_conv.bias.detach().numpy()) < 1e-9
        assert rel(dense.kernel.value[rows], t_dense.weight.detach().numpy().T) < 1e-9
        assert rel(dense.bias.value, t_dense.bias.detach().numpy()) < 1e-9


def test_batched_predict_with_reused_buffers_equals_one_forward_pass(rng):
    model = gn.Sequential([L.Input(shape=(9, 8, 2)), L.Conv2D(4, 3, activation="relu"), L.MaxPooling2D(2),
                           L.Conv2D(3, 2, padding="same"), L.Flatten(),
                           L.Dense(3, activation="softmax")])
    x = rng.normal(size=(10, 9, 8, 2)).astype(np.float32)
    expected = model.forward(x)
    np.testing.assert_allclose(model.predict(x, batch_size=3), expected, rtol=1e-5, atol=1e-7)
    assert model.layers[0].workspace is None  # buffers only while predict runs


def test_inference_in_image_blocks_equals_the_training_forward(rng, float64, monkeypatch):
    from glassnet.layers import conv as conv_module

    layer = L.Conv2D(3, 3, strides=2, padding="same", activation="relu")
    x = rng.normal(size=(7, 9, 8, 2))
    expected = layer.forward(x, training=True)
    monkeypatch.setattr(conv_module, "_PATCH_BUDGET", 2 * 5 * 4 * 18)  # blocks of 2 images: 2, 2, 2, 1
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-13)
    assert layer.cache == {}


@pytest.mark.parametrize("strides,dilation", [((1, 1), (1, 1)), ((2, 3), (1, 1)), ((1, 1), (2, 1))])
def test_scatter_products_in_image_groups_equals_col2im_of_one_product(strides, dilation, rng, float64, monkeypatch):
    from glassnet.layers import _conv_utils as cu

    n, (ho, wo), (kh, kw), a, b = 7, (4, 5), (3, 2), 3, 2
    hp = strides[0] * (ho - 1) + (kh - 1) * dilation[0] + 1
    wp = strides[1] * (wo - 1) + (kw - 1) * dilation[1] + 1
    lhs, weights = rng.normal(size=(n * ho * wo, a)), rng.normal(size=(kh, kw, a, b))
    # the adjoint of im2col, written out: column (p, q, c) of row (i, j) of image m lands on pixel
    # (i s_h + p d_h, j s_w + q d_w) of image m
    cols = lhs @ weights.transpose(2, 0, 1, 3).reshape(a, kh * kw * b)
    expected = cu.col2im(cols[None], (n, hp, wp, b), (ho, wo), (kh, kw), strides, dilation)
    monkeypatch.setattr(cu, "_SCATTER_BLOCK", 3 * ho * wo * b * 8)  # groups of 3 images: 3, 3, 1
    np.testing.assert_allclose(cu.scatter_products(lhs, weights, (n, hp, wp, b), (ho, wo), strides, dilation),
                               expected, rtol=1e-12, atol=1e-12)

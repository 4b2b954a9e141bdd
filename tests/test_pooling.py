"""Pooling: gradient checks, PyTorch parity (asymmetric "same" padding applied by hand), ties, errors."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.diagnostics import check_layer

L = gn.layers


def tf_same(n: int, k: int, s: int) -> tuple[int, int]:
    """TF/Keras "same": total = max((ceil(n / s) - 1) s + k - n, 0), the smaller half before."""
    total = max((-(-n // s) - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def rel(a, b) -> float:
    return float(np.abs(np.asarray(a) - np.asarray(b)).max() / max(np.abs(b).max(), 1e-300))


def nchw(a):
    return a.transpose(0, 3, 1, 2)


def nhwc(t):
    return t.detach().numpy().transpose(0, 2, 3, 1)


def torch_pool(torch, kind, x, pool, strides, padding):
    """PyTorch reference on NCHW; "same" pads by hand (-inf for max, zeros for sums divided by the count)."""
    F = torch.nn.functional
    n, h, w, _ = x.shape
    (top, bottom), (left, right) = ((0, 0), (0, 0)) if padding == "valid" else (
        tf_same(h, pool[0], strides[0]), tf_same(w, pool[1], strides[1]))
    xt = torch.tensor(nchw(x), requires_grad=True)
    if kind == "max":
        yt = F.max_pool2d(F.pad(xt, (left, right, top, bottom), value=-float("inf")), pool, strides)
    else:
        area = pool[0] * pool[1]
        sums = F.avg_pool2d(F.pad(xt, (left, right, top, bottom)), pool, strides) * area
        counts = F.avg_pool2d(F.pad(torch.ones_like(xt), (left, right, top, bottom)), pool, strides) * area
        yt = sums / counts
    return xt, yt


@pytest.mark.parametrize("kind", ["max", "average"])
@pytest.mark.parametrize("pool,strides", [((2, 2), None), ((3, 2), (2, 1)), ((3, 3), (2, 2)), ((2, 3), (3, 3)),
                                          ((1, 1), (1, 1)), ((5, 5), (1, 2))])
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("size", [(7, 9), (8, 6)])
def test_pooling2d_matches_pytorch(kind, pool, strides, padding, size, rng, float64, torch):
    layer = (L.MaxPooling2D if kind == "max" else L.AveragePooling2D)(pool, strides, padding)
    x = rng.normal(size=(1 if size[0] == 7 else 2, *size, 3))
    y = layer.forward(x, training=True)
    g = rng.normal(size=y.shape)
    gx = layer.backward(g)
    xt, yt = torch_pool(torch, kind, x, pool, strides or pool, padding)
    yt.backward(torch.tensor(nchw(g)))
    assert y.shape == nhwc(yt).shape == (x.shape[0],) + layer.output_shape
    assert rel(y, nhwc(yt)) < 1e-10
    assert rel(gx, nhwc(xt.grad)) < 1e-10


@pytest.mark.parametrize("kind", ["max", "average"])
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_pooling1d_matches_pytorch(kind, padding, rng, float64, torch):
    layer = (L.MaxPooling1D if kind == "max" else L.AveragePooling1D)(3, 2, padding)
    x = rng.normal(size=(2, 10, 4))
    y = layer.forward(x, training=True)
    g = rng.normal(size=y.shape)
    gx = layer.backward(g)
    xt, yt = torch_pool(torch, kind, x[:, None], (1, 3), (1, 2), padding)
    yt.backward(torch.tensor(nchw(g[:, None])))
    assert rel(y, nhwc(yt)[:, 0]) < 1e-10 and rel(gx, nhwc(xt.grad)[:, 0]) < 1e-10
    assert layer.output_shape == y.shape[1:] == ((4 if padding == "valid" else 5), 4)


def test_max_pooling_sends_the_gradient_to_the_first_maximum_on_ties(float64, torch):
    x = np.zeros((1, 4, 4, 2))
    x[0, 0, 1, 0] = x[0, 1, 0, 0] = 1.0  # two maxima in the first window: row-major first is (0, 1)
    layer = L.MaxPooling2D(2)
    layer.forward(x, training=True)
    g = np.arange(1.0, 9.0).reshape(1, 2, 2, 2)
    gx = layer.backward(g)
    assert gx[0, 0, 1, 0] == 1.0 and gx[0, 1, 0, 0] == 0.0
    assert gx[0, 0, 0, 1] == 2.0 and gx[..., 1].sum() == g[..., 1].sum()  # all-zero windows: first element
    xt, yt = torch_pool(torch, "max", x, (2, 2), (2, 2), "valid")
    yt.backward(torch.tensor(nchw(g)))
    np.testing.assert_array_equal(gx, nhwc(xt.grad))


@pytest.mark.parametrize("make,shape", [
    (lambda: L.MaxPooling2D((2, 3), (1, 2), "same"), (2, 5, 6, 2)),
    (lambda: L.AveragePooling2D(3, 2, "same"), (2, 5, 6, 2)),
    (lambda: L.MaxPooling1D(2), (2, 6, 3)),
    (lambda: L.AveragePooling1D(3, 1, "same"), (2, 5, 3)),
    (lambda: L.GlobalAveragePooling2D(), (2, 3, 4, 2)),
    (lambda: L.GlobalMaxPooling2D(keepdims=True), (2, 3, 4, 2)),
    (lambda: L.GlobalAveragePooling1D(keepdims=True), (2, 5, 3)),
    (lambda: L.GlobalMaxPooling1D(), (2, 5, 3)),
])
def test_pooling_passes_gradient_check(make, shape, rng, float64):
    report = check_layer(make(), rng.normal(size=shape))
    assert report.passed and "input" in report.errors, report


def test_global_pooling_values_and_shapes(rng, float64, torch):
    x = rng.normal(size=(3, 4, 5, 6))
    avg, mx = L.GlobalAveragePooling2D(), L.GlobalMaxPooling2D(keepdims=True)
    np.testing.assert_allclose(avg.forward(x), x.mean(axis=(1, 2)), rtol=1e-12)
    np.testing.assert_array_equal(mx.forward(x), x.max(axis=(1, 2), keepdims=True))
    assert avg.output_shape == (6,) and mx.output_shape == (1, 1, 6)
    xt = torch.tensor(x, requires_grad=True)
    g = rng.normal(size=(3, 1, 1, 6))
    xt.amax(dim=(1, 2), keepdim=True).backward(torch.tensor(g))
    mx.forward(x, training=True)
    assert rel(mx.backward(g), xt.grad.numpy()) < 1e-12


def test_pooling_keeps_float32_and_batch_of_one(rng):
    for layer in (L.MaxPooling2D(), L.AveragePooling2D(padding="same"), L.GlobalMaxPooling2D()):
        x = rng.normal(size=(1, 5, 5, 3)).astype(np.float32)
        y = layer.forward(x, training=True)
        assert y.dtype == np.float32 and y.shape[0] == 1
        assert layer.backward(np.ones_like(y)).dtype == np.float32


def test_pooling_defaults_config_and_errors():
    layer = L.MaxPooling2D()
    assert (layer.pool_size, layer.strides, layer.padding, layer.name) == ((2, 2), (2, 2), "valid", "max_pooling2d")
    clone = gn.layers.deserialize_layer(gn.layers.serialize_layer(L.AveragePooling1D(3, 2, "same")))
    assert (clone.pool_size, clone.strides, clone.padding) == ((3,), (2,), "same")
    with pytest.raises(gn.ShapeError, match=r"max_pooling2d.*\(batch, height, width, channels\).*\(batch, 8, 8\)"):
        L.MaxPooling2D().build((8, 8))
    with pytest.raises(gn.ShapeError, match="larger than the input"):
        L.MaxPooling2D(5).build((4, 4, 1))
    with pytest.raises(gn.ConfigError, match="pool_size"):
        L.MaxPooling2D((2, 0))
    with pytest.raises(gn.ConfigError, match="padding"):
        L.AveragePooling2D(padding="full")


@pytest.mark.parametrize("make,shape", [
    (lambda: [L.Conv2D(4, 2, activation="relu"), L.MaxPooling2D(2)], (3, 9, 9, 2)),  # 8 x 8: tiled windows
    (lambda: [L.Conv2D(4, 2, activation="relu"), L.MaxPooling2D(2)], (3, 8, 10, 2)),  # 7 x 9: a row/column left
    (lambda: [L.Conv2D(4, 2, activation="relu"), L.MaxPooling2D(3, 2, "same")], (3, 8, 8, 2)),  # overlapping
    (lambda: [L.Conv1D(4, 2, activation="relu"), L.MaxPooling1D(2)], (3, 9, 2)),
    (lambda: [L.Conv2DTranspose(4, 2, activation="relu"), L.MaxPooling2D(2)], (3, 5, 5, 2)),
    (lambda: [L.Dense(4, activation="relu"), L.MaxPooling1D(2)], (3, 8, 2)),
    (lambda: [L.Dense(4), L.Activation("relu"), L.MaxPooling1D(2)], (3, 8, 2)),
])
@pytest.mark.parametrize("one_image_groups", [False, True])
def test_relu_then_max_pooling_in_fit_gives_the_unfused_gradients(make, shape, one_image_groups, rng, float64,
                                                                    monkeypatch):
    """In fit, a max pooling after a ReLU layer returns that layer's dL/dz (Sequential._enter_session);
    the parameter gradients equal those of the plain backward (layer by layer through the ReLU), ties
    included: one filter is constant and positive (ties at the maximum), one constant and dead (ties at 0).
    With ``one_image_groups`` the fused backward also runs image by image (the unfused one in one group)."""
    layers = make()
    model = gn.Sequential([L.Input(shape=shape[1:]), *layers, L.Flatten(), L.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    first = layers[0]
    first.kernel.value[..., :2] = 0.0
    first.bias.value = np.array([0.5, -0.5, 0.1, -0.1])
    x, y = rng.normal(size=shape), rng.normal(size=(shape[0], 2))

    pred = model.forward(x, training=True)  # outside fit: nothing fused
    expected_loss = model.loss(y, pred)
    model.backward(model.loss.gradient(y, pred))
    expected = [p.grad.copy() for p in model.parameters()]
    pool = layers[-1]
    if one_image_groups:
        from glassnet.layers import pooling

        monkeypatch.setattr(pooling, "_POOL_GROUP", 1)
    with model.training_session():
        assert pool.relu_input and model._relu_fused == {len(layers) - 2}
        assert pool.relu_in_forward == isinstance(first, L.Conv2D | L.Conv1D | L.Conv2DTranspose)  # ReLU moves too
        assert model.compute_loss_and_gradients(x, y) == expected_loss
        if pool.relu_in_forward:
            assert first.cache["a"].min() < 0  # the conv's training output is z
    assert not pool.relu_input and not pool.relu_in_forward and not model._relu_fused
    assert not getattr(first, "relu_deferred", False)
    for got, want in zip((p.grad for p in model.parameters()), expected):
        np.testing.assert_array_equal(got, want)
    assert np.abs(expected[0]).max() > 0


@pytest.mark.parametrize("kind", ["max", "average"])
def test_pooling_in_image_groups_matches_pytorch_with_many_ties(kind, rng, float64, torch, monkeypatch):
    """Values from {0, 1, 2}: most windows tie. Image groups (forward: 1 image, backward: 2, so 3 groups
    for 5 images) give PyTorch's output and gradient."""
    from glassnet.layers import pooling

    monkeypatch.setattr(pooling, "_POOL_GROUP", 2 * 6 * 6 * 3 * 8)
    x = rng.integers(0, 3, size=(5, 6, 7, 3)).astype(float)  # 7 columns: the last one is in no window
    layer = L.MaxPooling2D(2) if kind == "max" else L.AveragePooling2D(2)
    y = layer.forward(x, training=True)
    g = rng.normal(size=(5, 3, 3, 3))
    gx = layer.backward(g)
    xt, yt = torch_pool(torch, kind, x, (2, 2), (2, 2), "valid")
    yt.backward(torch.tensor(nchw(g)))
    np.testing.assert_allclose(y, nhwc(yt), rtol=1e-15)
    np.testing.assert_allclose(gx, nhwc(xt.grad), rtol=1e-15)

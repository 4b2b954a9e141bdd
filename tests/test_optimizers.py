"""Optimizers against their written-out update rules, against torch.optim, and through save/resume."""

from __future__ import annotations

import math

import numpy as np
import pytest

import glassnet as gn
from glassnet.errors import ConfigError, UnknownNameError
from glassnet.optimizers import SGD, Adagrad, Adam, AdamW, Nadam, RMSprop
from glassnet.parameter import Parameter, ParameterPack

SHAPES = [(4, 3), (3,), (2, 2, 2)]
STEPS = 50


def _params(rng: np.random.Generator, packed: bool, dtype: str = "float64") -> list[Parameter]:
    params = [Parameter(rng.normal(size=s).astype(dtype), name=f"p{i}") for i, s in enumerate(SHAPES)]
    if packed:
        ParameterPack(params)
    return params


def _gradients(rng: np.random.Generator, steps: int = STEPS) -> list[list[np.ndarray]]:
    return [[rng.normal(size=s) for s in SHAPES] for _ in range(steps)]


def _run(optimizer, params, grads):
    history = []
    for step_grads in grads:
        for p, g in zip(params, step_grads, strict=True):
            p.grad[...] = g
        optimizer.step(params)
        history.append([p.value.copy() for p in params])
    return history


# -- each rule against its formula, written out independently, epsilon large so its place shows --------
def _ref_sgd(w, grads, lr, momentum=0.0, nesterov=False):
    v, out = np.zeros_like(w), []
    for g in grads:
        if not momentum:
            w = w - lr * g
        elif nesterov:
            v_old = v
            v = momentum * v_old + lr * g
            w = w - momentum**2 * v_old - (1 + momentum) * lr * g
        else:
            v = momentum * v + lr * g
            w = w - v
        out.append(w)
    return out


def _ref_adagrad(w, grads, lr, eps):
    G, out = np.zeros_like(w), []
    for g in grads:
        G = G + g**2
        w = w - lr * g / np.sqrt(G + eps)
        out.append(w)
    return out


def _ref_rmsprop(w, grads, lr, rho, eps):
    E, out = np.zeros_like(w), []
    for g in grads:
        E = rho * E + (1 - rho) * g**2
        w = w - lr * g / np.sqrt(E + eps)
        out.append(w)
    return out


def _ref_adam(w, grads, lr, b1, b2, eps, decay=0.0):
    m, v, out = np.zeros_like(w), np.zeros_like(w), []
    for t, g in enumerate(grads, start=1):
        w = w - lr * decay * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        w = w - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append(w)
    return out


def _ref_nadam(w, grads, lr, b1, b2, eps, psi):
    m, v, out, product = np.zeros_like(w), np.zeros_like(w), [], 1.0
    for t, g in enumerate(grads, start=1):
        mu = b1 * (1 - 0.5 * 0.96 ** (t * psi))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
        product *= mu
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_bar = mu_next * m / (1 - product * mu_next) + (1 - mu) * g / (1 - product)
        w = w - lr * m_bar / (np.sqrt(v / (1 - b2**t)) + eps)
        out.append(w)
    return out


CASES = {
    "sgd": (lambda: SGD(0.1), lambda w, g: _ref_sgd(w, g, 0.1)),
    "momentum": (lambda: SGD(0.1, momentum=0.9), lambda w, g: _ref_sgd(w, g, 0.1, 0.9)),
    "nesterov": (lambda: SGD(0.1, 0.9, nesterov=True), lambda w, g: _ref_sgd(w, g, 0.1, 0.9, True)),
    "adagrad": (lambda: Adagrad(0.1, epsilon=0.1), lambda w, g: _ref_adagrad(w, g, 0.1, 0.1)),
    "rmsprop": (lambda: RMSprop(0.01, rho=0.8, epsilon=0.1), lambda w, g: _ref_rmsprop(w, g, 0.01, 0.8, 0.1)),
    "adam": (lambda: Adam(0.01, 0.8, 0.9, epsilon=0.1), lambda w, g: _ref_adam(w, g, 0.01, 0.8, 0.9, 0.1)),
    "adamw": (
        lambda: AdamW(0.01, weight_decay=0.5, beta_1=0.8, beta_2=0.9, epsilon=0.1),
        lambda w, g: _ref_adam(w, g, 0.01, 0.8, 0.9, 0.1, decay=0.5),
    ),
    "nadam": (
        lambda: Nadam(0.01, 0.8, 0.9, epsilon=0.1, momentum_decay=0.004),
        lambda w, g: _ref_nadam(w, g, 0.01, 0.8, 0.9, 0.1, 0.004),
    ),
    "nadam_constant_momentum": (
        lambda: Nadam(0.01, 0.8, 0.9, epsilon=0.1, momentum_decay=0.0),
        lambda w, g: _ref_nadam(w, g, 0.01, 0.8, 0.9, 0.1, 0.0),
    ),
}


@pytest.mark.parametrize("packed", [False, True], ids=["per_parameter", "flat_pack"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_rule_matches_written_out_formula(case, packed, rng):
    make, reference = CASES[case]
    params = _params(rng, packed)
    start = [p.value.copy() for p in params]
    grads = _gradients(rng)
    history = _run(make(), params, grads)
    for i in range(len(SHAPES)):
        expected = reference(start[i], [g[i] for g in grads])
        for step in range(STEPS):
            np.testing.assert_allclose(history[step][i], expected[step], rtol=1e-12, atol=1e-14)


def test_epsilon_placement_is_visible_at_large_epsilon(rng):
    # the two placements differ a lot at eps=0.1, so the formula tests above can tell them apart
    w, g = np.zeros(5), rng.normal(size=5)
    inside = _ref_rmsprop(w, [g], 0.01, 0.8, 0.1)[0]
    outside = -0.01 * g / (np.sqrt(0.2 * g**2) + 0.1)
    assert np.max(np.abs(inside - outside) / np.abs(outside)) > 0.05


# -- PyTorch parity (float64, same epsilon, 100 steps) ---------------------------------------------------
def _torch_run(torch, make_torch_optimizer, start, grads):
    tensors = [torch.tensor(w.copy(), requires_grad=True) for w in start]
    optimizer = make_torch_optimizer(tensors)
    history = []
    for step_grads in grads:
        for t, g in zip(tensors, step_grads, strict=True):
            t.grad = torch.tensor(g)
        optimizer.step()
        history.append([t.detach().numpy().copy() for t in tensors])
    return history


TORCH_CASES = {
    "sgd": (lambda: SGD(0.05), lambda o, ps: o.SGD(ps, lr=0.05)),
    "momentum": (lambda: SGD(0.05, momentum=0.9), lambda o, ps: o.SGD(ps, lr=0.05, momentum=0.9)),
    "nesterov": (
        lambda: SGD(0.05, momentum=0.9, nesterov=True),
        lambda o, ps: o.SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
    ),
    "adam": (
        lambda: Adam(0.01, 0.8, 0.9, epsilon=0.1),
        lambda o, ps: o.Adam(ps, lr=0.01, betas=(0.8, 0.9), eps=0.1),
    ),
    "adam_default_eps": (lambda: Adam(0.01, epsilon=1e-7), lambda o, ps: o.Adam(ps, lr=0.01, eps=1e-7)),
    "adamw": (
        lambda: AdamW(0.01, weight_decay=0.3, beta_1=0.8, beta_2=0.9, epsilon=0.1),
        lambda o, ps: o.AdamW(ps, lr=0.01, betas=(0.8, 0.9), eps=0.1, weight_decay=0.3),
    ),
    "nadam": (
        lambda: Nadam(0.01, 0.8, 0.9, epsilon=0.1),
        lambda o, ps: o.NAdam(ps, lr=0.01, betas=(0.8, 0.9), eps=0.1, momentum_decay=0.004),
    ),
}


@pytest.mark.parametrize("packed", [False, True], ids=["per_parameter", "flat_pack"])
@pytest.mark.parametrize("case", sorted(TORCH_CASES))
def test_parity_with_torch_optim(case, packed, torch, rng):
    # torch's momentum buffer b relates to our velocity by v = lr * b (constant lr), so the iterates match
    make, make_torch = TORCH_CASES[case]
    params = _params(rng, packed)
    for p in params:  # keep weights away from 0 so an element-wise relative tolerance is meaningful
        p.value = p.value + np.sign(p.value) * 10.0
    start = [p.value.copy() for p in params]
    grads = _gradients(rng, steps=100)
    ours = _run(make(), params, grads)
    theirs = _torch_run(torch, lambda ps: make_torch(torch.optim, ps), start, grads)
    for step in range(100):
        for a, b in zip(ours[step], theirs[step], strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=0)


def test_momentum_velocity_is_torch_buffer_times_lr(torch, rng):
    w = Parameter(rng.normal(size=6), name="w")
    tw = torch.tensor(w.value.copy(), requires_grad=True)
    ours, theirs = SGD(0.05, momentum=0.9), torch.optim.SGD([tw], lr=0.05, momentum=0.9)
    for _ in range(10):
        g = rng.normal(size=6)
        w.grad[...] = g
        tw.grad = torch.tensor(g)
        ours.step([w])
        theirs.step()
    buffer = theirs.state[tw]["momentum_buffer"].numpy()
    np.testing.assert_allclose(ours.state[w]["velocity"], 0.05 * buffer, rtol=1e-12)


# -- Nesterov: the reformulated iterates are the textbook's look-ahead points ----------------------------
def test_nesterov_iterates_are_textbook_lookahead_points(rng):
    q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    A = q @ np.diag([100.0, 30.0, 5.0, 1.0, 0.01]) @ q.T  # condition number 1e4

    def grad(w):
        return A @ w  # f(w) = 0.5 w^T A w

    lr, mu = 0.005, 0.9
    w_textbook, v = rng.normal(size=5), np.zeros(5)
    param = Parameter(w_textbook.copy(), name="w")
    optimizer = SGD(lr, momentum=mu, nesterov=True)
    for _ in range(200):
        v = mu * v + lr * grad(w_textbook - mu * v)  # gradient at the look-ahead point
        w_textbook = w_textbook - v
        param.grad[...] = grad(param.value)  # only the gradient at the stored weights
        optimizer.step([param])
        lookahead = w_textbook - mu * v
        np.testing.assert_allclose(param.value, lookahead, rtol=1e-9, atol=1e-12)
    assert 0.5 * param.value @ A @ param.value < 1e-3 * (0.5 * w_textbook @ A @ w_textbook + 1.0)


# -- clipping ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("packed", [False, True], ids=["per_parameter", "flat_pack"])
def test_clipnorm_caps_each_norm_and_keeps_direction(packed, rng):
    params = _params(rng, packed)
    grads = [10.0 * rng.normal(size=s) for s in SHAPES]
    grads[1] *= 1e-3  # this one is below the cap and must be left alone
    for p, g in zip(params, grads, strict=True):
        p.grad[...] = g
    start = [p.value.copy() for p in params]
    SGD(1.0, clipnorm=0.5).step(params)
    for p, w0, g in zip(params, start, grads, strict=True):
        step = w0 - p.value
        expected = g if np.linalg.norm(g) <= 0.5 else g * (0.5 / np.linalg.norm(g))
        np.testing.assert_allclose(step, expected, rtol=1e-12, atol=1e-15)
        assert np.linalg.norm(step) <= 0.5 * (1 + 1e-12)


@pytest.mark.parametrize("packed", [False, True], ids=["per_parameter", "flat_pack"])
def test_global_clipnorm_scales_all_gradients_together(packed, rng):
    params = _params(rng, packed)
    grads = [rng.normal(size=s) for s in SHAPES]
    total = math.sqrt(sum(float(np.sum(g**2)) for g in grads))
    for p, g in zip(params, grads, strict=True):
        p.grad[...] = g
    start = [p.value.copy() for p in params]
    SGD(1.0, global_clipnorm=0.25 * total).step(params)
    steps = [w0 - p.value for p, w0 in zip(params, start, strict=True)]
    for step, g in zip(steps, grads, strict=True):
        np.testing.assert_allclose(step, 0.25 * g, rtol=1e-12)  # one common factor: directions kept
    joint = math.sqrt(sum(float(np.sum(s**2)) for s in steps))
    assert joint == pytest.approx(0.25 * total, rel=1e-12)


def test_clipvalue_clips_entries(rng):
    p = Parameter(np.zeros(4), name="w")
    p.grad[...] = [-3.0, -0.1, 0.2, 5.0]
    SGD(1.0, clipvalue=0.5).step([p])
    np.testing.assert_array_equal(p.value, [0.5, 0.1, -0.2, -0.5])


def test_clipping_is_applied_before_the_rule(rng):
    params, clipped = _params(rng, False), _params(np.random.default_rng(1234), False)
    for p, c in zip(params, clipped, strict=True):
        c.value = p.value
        p.grad[...] = 100.0 * rng.normal(size=p.shape)
        norm = np.linalg.norm(p.grad)
        c.grad[...] = p.grad * (1.0 / norm)
    Adam(0.1, clipnorm=1.0).step(params)
    Adam(0.1).step(clipped)
    for p, c in zip(params, clipped, strict=True):
        np.testing.assert_allclose(p.value, c.value, rtol=1e-12)


# -- dtype, state, config -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["sgd", "adagrad", "rmsprop", "adam", "adamw", "nadam"])
@pytest.mark.parametrize("packed", [False, True], ids=["per_parameter", "flat_pack"])
def test_float32_stays_float32(name, packed, rng):
    params = _params(rng, packed, dtype="float32")
    optimizer = gn.optimizers.get(name)
    for _ in range(3):
        for p in params:
            p.grad[...] = rng.normal(size=p.shape)
        optimizer.step(params)
    assert all(p.value.dtype == np.float32 for p in params)
    assert all(a.dtype == np.float32 for slots in optimizer.state.values() for a in slots.values())


def test_adam_moments_are_ewmas_of_the_gradients(rng):
    p = Parameter(np.zeros(3), name="w")
    optimizer = Adam(0.001, beta_1=0.8, beta_2=0.95)
    grads = rng.normal(size=(20, 3))
    for g in grads:
        p.grad[...] = g
        optimizer.step([p])
    np.testing.assert_allclose(optimizer.state[p]["first_moment"], gn.ewma(grads, 0.8)[-1], rtol=1e-12)
    np.testing.assert_allclose(optimizer.state[p]["second_moment"], gn.ewma(grads**2, 0.95)[-1], rtol=1e-12)


def test_scratch_buffers_are_not_saved_and_state_round_trips(rng):
    params = _params(rng, True)
    optimizer = Nadam(0.01)
    grads = _gradients(rng, steps=6)
    _run(optimizer, params, grads[:3])
    state = optimizer.get_state()
    assert not any(":_" in key for key in state)
    assert {k.split(":")[1] for k in state if k != "iterations"} == {"first_moment", "second_moment"}
    copy = [Parameter(p.value.copy(), name=p.name) for p in params]
    ParameterPack(copy)
    restored = Nadam(0.01)
    restored.set_state(state)
    a, b = _run(optimizer, params, grads[3:]), _run(restored, copy, grads[3:])
    for x, y in zip(a[-1], b[-1], strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("name", ["sgd", "adagrad", "rmsprop", "adam", "adamw", "nadam"])
def test_every_name_resolves_and_config_round_trips(name):
    schedule = gn.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    optimizer = gn.optimizers.get(name)
    optimizer.learning_rate = schedule
    optimizer.clipnorm = 2.0
    serialized = {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}
    rebuilt = gn.optimizers.get(serialized)
    assert type(rebuilt) is type(optimizer)
    assert rebuilt.get_config() == optimizer.get_config()
    assert isinstance(rebuilt.learning_rate, gn.schedules.ExponentialDecay)
    assert rebuilt.current_learning_rate() == pytest.approx(0.1)
    rebuilt.iterations = 20
    assert rebuilt.current_learning_rate() == pytest.approx(0.025)


def test_unknown_name_and_bad_arguments_raise_clear_errors():
    with pytest.raises(UnknownNameError, match="adam"):
        gn.optimizers.get("adamm")
    with pytest.raises(ConfigError, match="beta_1"):
        Adam(beta_1=1.0)
    with pytest.raises(ConfigError, match="epsilon"):
        RMSprop(epsilon=-1.0)
    with pytest.raises(ConfigError, match="plain function"):
        SGD(learning_rate=lambda step: 0.1).get_config()


def test_compile_default_optimizer_is_rmsprop():
    model = gn.Sequential([gn.layers.Dense(2)])
    model.compile(loss="mse")
    assert isinstance(model.optimizer, RMSprop)


# -- training resumes exactly after save/load with the optimizer state -----------------------------------
def _digits_model(optimizer):
    layers = [
        gn.layers.Input(shape=(64,)),
        gn.layers.Dense(16, activation="relu"),
        gn.layers.Dense(10, "softmax"),
    ]
    model = gn.Sequential(layers)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    return model


@pytest.mark.parametrize(
    "optimizer",
    [
        lambda: SGD(0.05, momentum=0.9, nesterov=True),
        lambda: RMSprop(0.01),
        lambda: Adam(0.01),
        lambda: Nadam(gn.schedules.CosineDecay(0.01, decay_steps=40, warmup_steps=5)),
    ],
    ids=["nesterov", "rmsprop", "adam", "nadam_cosine"],
)
def test_fit_save_load_fit_equals_fit_straight_through(optimizer, tmp_path):
    x, y = gn.datasets.load_digits()
    x = (x.reshape(len(x), -1)[:256] / 16.0).astype(np.float32)
    y = y[:256]
    gn.set_seed(7)
    straight = _digits_model(optimizer())
    resumed = _digits_model(optimizer())
    resumed.set_weights(straight.get_weights())
    straight.fit(x, y, epochs=4, batch_size=32, shuffle=False, verbose=0)
    resumed.fit(x, y, epochs=2, batch_size=32, shuffle=False, verbose=0)
    resumed.save(tmp_path / "model.zip", include_optimizer=True)
    loaded = gn.load_model(tmp_path / "model.zip")
    assert loaded.optimizer.iterations == 16
    loaded.fit(x, y, epochs=2, batch_size=32, shuffle=False, verbose=0)
    for a, b in zip(straight.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


# -- gn.ewma -----------------------------------------------------------------------------------------------
def _ewma_loop(x, beta, bias_correction):
    v, out = np.zeros_like(x[0]), []
    for t, value in enumerate(x, start=1):
        v = beta * v + (1 - beta) * value
        out.append(v / (1 - beta**t) if bias_correction else v)
    return np.array(out)


@pytest.mark.parametrize("beta", [0.0, 0.5, 0.9, 0.999])
@pytest.mark.parametrize("bias_correction", [False, True])
def test_ewma_matches_the_recurrence_across_blocks(beta, bias_correction, rng):
    x = rng.normal(size=(300, 2, 3)) + 5.0  # 300 steps span three blocks of the vectorized form
    np.testing.assert_allclose(
        gn.ewma(x, beta, bias_correction), _ewma_loop(x, beta, bias_correction), rtol=1e-12
    )


def test_ewma_bias_correction_recovers_a_constant_and_keeps_float32():
    x = np.full(50, 3.0, dtype=np.float32)
    plain, corrected = gn.ewma(x, 0.9), gn.ewma(x, 0.9, bias_correction=True)
    assert plain.dtype == corrected.dtype == np.float32
    assert plain[0] == pytest.approx(0.3)  # v_1 = (1 - beta) x_1: biased towards 0
    np.testing.assert_allclose(corrected, 3.0, rtol=1e-6)
    np.testing.assert_allclose(gn.ewma([1, 2, 3], 0.5), [0.5, 1.25, 2.125])


def test_ewma_rejects_bad_beta():
    with pytest.raises(ConfigError, match="beta must be in"):
        gn.ewma([1.0, 2.0], beta=1.0)


# -- state is keyed by the Parameter object, never by its name (issue 10, item 6) --------------------------
def _two_standalone_dense(same_shape: bool, names: tuple[str | None, str | None]):
    first = gn.layers.Dense(4 if same_shape else 3, activation="tanh", name=names[0])
    second = gn.layers.Dense(4 if same_shape else 2, name=names[1])
    first.build((4,))
    second.build((first.units,))
    return first, second


@pytest.mark.parametrize("same_shape", [True, False], ids=["same_shape", "different_shapes"])
@pytest.mark.parametrize("names", [(None, None), ("twin", "twin")], ids=["automatic_names", "same_explicit_name"])
def test_two_standalone_dense_layers_with_momentum_train_like_torch(same_shape, names, rng, float64, torch):
    first, second = _two_standalone_dense(same_shape, names)
    if names == (None, None):
        assert (first.name, second.name) == ("dense", "dense_1")  # Keras-style automatic names
    linears = [torch.nn.Linear(layer.kernel.shape[0], layer.units) for layer in (first, second)]
    with torch.no_grad():
        for layer, linear in zip((first, second), linears, strict=True):
            linear.weight.copy_(torch.tensor(layer.kernel.value.T))
            linear.bias.copy_(torch.tensor(layer.bias.value))
    ours = SGD(0.1, momentum=0.9)
    theirs = torch.optim.SGD([p for lin in linears for p in lin.parameters()], lr=0.1, momentum=0.9)
    params = first.parameters() + second.parameters()
    for _ in range(6):
        x, target = rng.normal(size=(5, 4)), rng.normal(size=(5, second.units))
        out = second.forward(first.forward(x, training=True), training=True)
        first.backward(second.backward(gn.losses.get("mse").gradient(target, out)))
        ours.step(params)
        theirs.zero_grad()
        loss = torch.nn.functional.mse_loss(linears[1](torch.tanh(linears[0](torch.tensor(x)))), torch.tensor(target))
        loss.backward()
        theirs.step()
    for layer, linear in zip((first, second), linears, strict=True):
        np.testing.assert_allclose(layer.kernel.value, linear.weight.detach().numpy().T, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(layer.bias.value, linear.bias.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert len(ours.state) == 4  # one entry per Parameter object
    if names == (None, None):
        assert {k.split(":")[0] for k in ours.get_state() if k != "iterations"} == {
            "dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias"}
    else:
        with pytest.raises(gn.errors.StateError, match="both named 'twin/kernel'.*distinct names"):
            ours.get_state()


def test_set_state_binds_saved_slots_by_name_and_refuses_unknown_or_misshapen_ones(rng):
    params = _params(rng, packed=False)
    optimizer = Adam(0.01)
    _run(optimizer, params, _gradients(rng, steps=3))
    state = optimizer.get_state()
    fresh = Adam(0.01)
    fresh.set_state(state)
    assert fresh.get_state().keys() == state.keys()  # not bound yet, still saved with the next save
    copies = [Parameter(p.value.copy(), name=p.name) for p in params]
    fresh.set_state(state, copies)  # bound at once
    np.testing.assert_array_equal(fresh.state[copies[0]]["first_moment"], optimizer.state[params[0]]["first_moment"])
    with pytest.raises(gn.errors.StateError, match="'p0': no such parameter"):
        Adam().set_state(state, copies[1:])
    wrong = [Parameter(np.zeros(7), name="p0")]
    with pytest.raises(gn.errors.StateError, match=r"shape \(4, 3\), the parameter \(7,\)"):
        Adam().set_state({"p0:first_moment": state["p0:first_moment"]}, wrong)


# -- a frozen layer is not updated, whoever passes its parameters to the optimizer -------------------------
def test_step_on_a_frozen_standalone_layer_leaves_it_unchanged(rng):
    layer = gn.layers.Dense(3)
    layer.build((4,))
    layer.trainable = False
    before = layer.get_weights()
    for p in layer.parameters():
        p.grad[...] = rng.normal(size=p.shape)
    SGD(0.1).step(layer.parameters())
    for a, b in zip(before, layer.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    layer.trainable = True
    SGD(0.1).step(layer.parameters())
    assert not np.array_equal(before[0], layer.kernel.value)
    assert gn.layers.Dense(2, trainable=False).trainable is False


def test_unfreezing_batch_normalization_keeps_its_moving_statistics_non_trainable():
    layer = gn.layers.BatchNormalization(trainable=False)
    layer.build((3,))
    assert not any(p.trainable for p in layer.parameters())
    layer.trainable = True
    assert {p.name.split("/")[1]: p.trainable for p in layer.parameters()} == {
        "gamma": True, "beta": True, "moving_mean": False, "moving_variance": False}


@pytest.mark.parametrize("freeze", ["layer", "model"])
def test_freezing_after_compile_is_honoured_by_fit_and_by_a_manual_step(freeze, rng):
    model = gn.Sequential([gn.layers.Input(shape=(4,)), gn.layers.Dense(5, activation="tanh"), gn.layers.Dense(2)])
    model.compile(optimizer=SGD(0.1, momentum=0.9), loss="mse")
    x, y = rng.normal(size=(16, 4)).astype(np.float32), rng.normal(size=(16, 2)).astype(np.float32)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    frozen = model if freeze == "model" else model.layers[0]
    frozen.trainable = False
    before = model.get_weights()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    after_fit = model.get_weights()
    for p in model.parameters():
        p.grad[...] = 1.0
    model.optimizer.step(model.parameters())
    after_step = model.get_weights()
    for a, b, c in zip(before[:2], after_fit[:2], after_step[:2], strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    if freeze == "layer":  # the other layer still trains
        assert not np.array_equal(before[2], after_fit[2]) and not np.array_equal(after_fit[2], after_step[2])
    frozen.trainable = True
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert not np.array_equal(after_step[0], model.get_weights()[0])


# -- schedules: step t uses schedule(t), counted from 0, as torch's LambdaLR stepped once per update ----------
@pytest.mark.parametrize("packed", [False, True], ids=["per_parameter", "flat_pack"])
@pytest.mark.parametrize("case", ["sgd", "adam", "adamw", "nadam"])
def test_scheduled_learning_rate_matches_torch_lambda_lr(case, packed, torch, rng):
    schedule = gn.schedules.ExponentialDecay(0.05, decay_steps=7, decay_rate=0.3)
    make, make_torch = TORCH_CASES[case]
    optimizer = make()
    optimizer.learning_rate = schedule
    params = _params(rng, packed)
    for p in params:
        p.value = p.value + np.sign(p.value) * 10.0
    tensors = [torch.tensor(p.value.copy(), requires_grad=True) for p in params]
    reference = make_torch(torch.optim, tensors)
    for group in reference.param_groups:
        group["lr"] = 0.05
    scheduler = torch.optim.lr_scheduler.LambdaLR(reference, lambda step: schedule(step) / 0.05)
    for step_grads in _gradients(rng, steps=30):
        for p, t, g in zip(params, tensors, step_grads, strict=True):
            p.grad[...] = g
            t.grad = torch.tensor(g)
        optimizer.step(params)
        reference.step()
        scheduler.step()
        for p, t in zip(params, tensors, strict=True):
            np.testing.assert_allclose(p.value, t.detach().numpy(), rtol=1e-12, atol=0)
    assert optimizer.iterations == 30 and optimizer.last_learning_rate == pytest.approx(schedule(29))


def test_one_optimizer_shared_by_two_packed_models_with_the_same_layer_names_keeps_their_states_apart(rng):
    def model(optimizer, seed):
        gn.set_seed(seed)
        net = gn.Sequential([gn.layers.Input(shape=(4,)), gn.layers.Dense(6, activation="tanh", name="hidden"),
                             gn.layers.Dense(2, name="out")])
        net.compile(optimizer=optimizer, loss="mse")
        return net

    x, y = rng.normal(size=(16, 4)).astype(np.float32), rng.normal(size=(16, 2)).astype(np.float32)
    shared = SGD(0.05, momentum=0.9)  # (not Adam: its step count t would advance for both models)
    a, b = model(shared, 1), model(shared, 2)  # both hold 'hidden/kernel', ... in their own flat packs
    alone_a, alone_b = model(SGD(0.05, momentum=0.9), 1), model(SGD(0.05, momentum=0.9), 2)
    for _ in range(3):
        for net in (a, b, alone_a, alone_b):
            net.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    for net, alone in ((a, alone_a), (b, alone_b)):
        for w, v in zip(net.get_weights(), alone.get_weights(), strict=True):
            np.testing.assert_array_equal(w, v)

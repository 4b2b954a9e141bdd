"""A mask that reaches a model's output leaves the padded steps out of the loss, its gradient and the
metrics, as Keras 3 does: L = (1/N_real) sum over real steps of w_b l_(b,t). Checked against the formula
written out in NumPy and its finite differences."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import LSTM, Dense, Embedding, Input


def _ids(rng: np.random.Generator, lengths: tuple[int, ...] = (6, 4, 2, 5), steps: int = 6) -> np.ndarray:
    ids = rng.integers(1, 7, size=(len(lengths), steps))
    for row, n in enumerate(lengths):
        ids[row, n:] = 0
    return ids


def _tagger(functional: bool = False) -> gn.Model:
    """Embedding(mask_zero) -> LSTM(return_sequences) -> Dense softmax: one label per step."""
    layers = [Embedding(7, 4, mask_zero=True), LSTM(5, return_sequences=True), Dense(3, activation="softmax")]
    if functional:
        x_in = Input(shape=(6,))
        h = x_in
        for layer in layers:
            h = layer(h)
        model = gn.Model(inputs=x_in, outputs=h)
    else:
        model = gn.Sequential([Input(shape=(6,)), *layers])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    for p in model.parameters():
        p.value = np.random.default_rng(4).normal(0.0, 0.6, size=p.shape)
    return model


def _hand_loss(model: gn.Model, ids: np.ndarray, labels: np.ndarray, w: np.ndarray | None = None) -> float:
    """(1/N_real) sum over real steps of w_b (-log p_(b,t)[label]), from the model's plain forward."""
    p = model.forward(ids, training=False)
    real = ids != 0
    picked = np.take_along_axis(p, labels[..., None], axis=-1)[..., 0]
    weights = np.ones(len(ids)) if w is None else w
    return float(np.sum(-np.log(picked) * real * weights[:, None]) / real.sum())


@pytest.mark.parametrize("functional", [False, True])
def test_the_loss_and_its_gradient_leave_padded_steps_out(float64, rng, functional):
    model = _tagger(functional)
    ids, labels = _ids(rng), rng.integers(0, 3, size=(4, 6))
    loss = model.compute_loss_and_gradients(ids, labels)
    assert loss == pytest.approx(_hand_loss(model, ids, labels), rel=1e-12)
    unmasked = -np.log(np.take_along_axis(model.forward(ids), labels[..., None], axis=-1)).mean()
    assert abs(loss - unmasked) > 1e-3  # the padded steps really are left out
    kernel = next(layer for layer in model.layers if isinstance(layer, LSTM)).kernel
    grad = kernel.grad.copy()
    for index in [(0, 0), (1, 7), (3, 19)]:  # finite differences of the hand-written loss
        old = kernel.value[index]
        kernel.value[index] = old + 1e-6
        up = _hand_loss(model, ids, labels)
        kernel.value[index] = old - 1e-6
        down = _hand_loss(model, ids, labels)
        kernel.value[index] = old
        assert grad[index] == pytest.approx((up - down) / 2e-6, rel=1e-6, abs=1e-10)


def test_evaluate_metrics_and_sample_weights_use_the_real_steps(float64, rng):
    model = _tagger()
    ids, labels = _ids(rng), rng.integers(0, 3, size=(4, 6))
    logs = model.evaluate(ids, labels, batch_size=4)
    assert logs["loss"] == pytest.approx(_hand_loss(model, ids, labels), rel=1e-12)
    predicted = model.predict(ids).argmax(axis=-1)
    real = ids != 0
    assert logs["accuracy"] == pytest.approx(np.mean(predicted[real] == labels[real]), rel=1e-12)
    w = np.array([1.0, 0.5, 2.0, 0.0])
    weighted = model.evaluate(ids, labels, batch_size=4, sample_weight=w)
    assert weighted["loss"] == pytest.approx(_hand_loss(model, ids, labels, w), rel=1e-12)


def test_extra_padding_changes_neither_loss_nor_gradients(float64, rng):
    model = _tagger()
    ids, labels = _ids(rng), rng.integers(0, 3, size=(4, 6))
    loss = model.compute_loss_and_gradients(ids, labels)
    grads = [p.grad.copy() for p in model.parameters()]
    longer = gn.Sequential([Input(shape=(9,)), Embedding(7, 4, mask_zero=True), LSTM(5, return_sequences=True),
                            Dense(3, activation="softmax")])
    longer.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    for p, q in zip(model.parameters(), longer.parameters(), strict=True):
        q.value = p.value.copy()
    pad = np.zeros((4, 3), ids.dtype)
    loss_longer = longer.compute_loss_and_gradients(np.concatenate([ids, pad], axis=1),
                                                    np.concatenate([labels, pad], axis=1))
    assert loss_longer == pytest.approx(loss, rel=1e-12)
    for g, q in zip(grads, longer.parameters(), strict=True):
        np.testing.assert_allclose(q.grad, g, rtol=1e-10, atol=1e-14)


def test_fit_trains_a_padded_tagger(rng):
    model = _tagger()
    ids = np.concatenate([_ids(rng) for _ in range(16)])
    labels = (ids % 3).astype(int)  # the label of each token is its id mod 3
    model.compile(optimizer=gn.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(ids, labels, epochs=30, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.2 * history.history["loss"][0]
    assert history.history["accuracy"][-1] > 0.95  # over the real steps (padding's label 0 would be easy)

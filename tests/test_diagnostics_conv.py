"""Per-channel dead/saturated fractions of conv layers (GradientMonitor) and the dead-channel finding."""

from __future__ import annotations

import numpy as np

import glassnet as gn
from glassnet.diagnostics import GradientMonitor, diagnose
from glassnet.diagnostics.monitor import Diagnostics, channel_stats

L = gn.layers


def test_channel_stats_are_the_fractions_written_out(rng):
    a = np.maximum(rng.normal(size=(3, 4, 5, 6)), 0.0)
    a[..., 2] = 0.0
    dead = np.array([np.mean(a[:, :, :, c] == 0) for c in range(6)])
    stats = channel_stats(a, "relu")
    np.testing.assert_allclose(stats["dead_fraction"], dead)
    assert stats["dead_fraction"][2] == 1.0 and not stats["saturated_fraction"].any()
    t = np.tanh(3 * rng.normal(size=(2, 7, 4)))
    np.testing.assert_allclose(channel_stats(t, "tanh")["saturated_fraction"],
                               [np.mean(np.abs(t[:, :, c]) > 0.99) for c in range(4)])
    s = 1 / (1 + np.exp(-4 * rng.normal(size=(2, 3, 3, 2))))
    np.testing.assert_allclose(channel_stats(s, "sigmoid")["saturated_fraction"],
                               [np.mean((s[..., c] < 0.01) | (s[..., c] > 0.99)) for c in range(2)])


def small_cnn(seed=0):
    gn.set_seed(seed)
    model = gn.Sequential([
        L.Input(shape=(8, 8, 1)),
        L.Conv2D(5, 3, activation="relu"), L.MaxPooling2D(2),
        L.Conv2D(4, 2, use_bias=False), L.BatchNormalization(), L.Activation("relu"),
        L.Flatten(), L.Dense(3, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def test_monitor_records_each_channel_of_relu_conv_and_image_outputs(rng):
    x, y = rng.normal(size=(40, 8, 8, 1)), rng.integers(0, 3, size=40)
    model = small_cnn()
    monitor = GradientMonitor(probe=x[:16])
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, seed=0, callbacks=[monitor])
    rows = monitor.diagnostics.channels
    conv, _, conv2, bn, act = model.layers[:5]
    # only the ReLU conv and the ReLU on image outputs: not the linear conv, pooling, BN, Dense
    assert sorted({r["layer"] for r in rows}) == sorted([conv.name, act.name])
    assert len(rows) == 2 * (5 + 4) and [r["channel"] for r in rows[:5]] == [0, 1, 2, 3, 4]
    h1 = conv.forward(x[:16], training=False)
    h2 = act.forward(bn.forward(conv2.forward(model.layers[1].forward(h1)), training=False))
    last = [r for r in rows if r["epoch"] == 1]
    np.testing.assert_allclose([r["dead_fraction"] for r in last if r["layer"] == conv.name],
                               np.mean(h1.reshape(-1, 5) == 0, axis=0))
    np.testing.assert_allclose([r["dead_fraction"] for r in last if r["layer"] == act.name],
                               np.mean(h2.reshape(-1, 4) == 0, axis=0))


def record(channel_dead, dead_fraction=0.0, layer="conv2d", outputs=("dense",)):
    """A hand-made monitor record: one ReLU conv layer with the given per-channel dead fractions."""
    rows = [{"epoch": 0, "layer": layer, "activation": "relu", "mean": 0.1, "std": 0.1,
             "dead_fraction": dead_fraction, "saturated_fraction": 0.0},
            {"epoch": 0, "layer": "dense", "activation": "softmax", "mean": 0.1, "std": 0.1,
             "dead_fraction": 0.0, "saturated_fraction": 0.0}]
    channels = [{"epoch": 0, "layer": layer, "activation": "relu", "channel": c, "dead_fraction": d,
                 "saturated_fraction": 0.0} for c, d in enumerate(channel_dead)]
    return Diagnostics(layers=[layer, "dense"], activations=rows, channels=channels, outputs=list(outputs),
                       feeds={layer: ["dense"]})


def test_a_conv_layer_with_mostly_dead_channels_is_named_with_its_channels():
    (finding,) = diagnose(record([0.995, 1.0, 0.2, 0.999, 0.3]))  # 3 of 5 channels 0 almost everywhere
    assert finding.name == "dying ReLU" and finding.layer == "conv2d"
    assert "3 of its 5 relu channels are mostly dead" in finding.text and "channels 0, 1, 3" in finding.text
    assert "Leaky ReLU" in finding.text  # the remedies of dying ReLU
    assert diagnose(record([0.995, 1.0, 0.2, 0.98, 0.3])) == []  # 2 of 5: not a majority
    assert diagnose(record([1.0] * 4, layer="out", outputs=["out"])) == []  # an output layer is left out


def test_a_layer_already_flagged_as_dying_relu_is_reported_once():
    findings = diagnose(record([1.0, 1.0, 1.0, 0.5], dead_fraction=0.75))
    assert [(f.name, f.layer) for f in findings] == [("dying ReLU", "conv2d")]
    assert "75% of its relu units output 0" in findings[0].text


def test_a_dead_conv_layer_is_diagnosed_after_real_training(rng):
    x, y = np.abs(rng.normal(size=(48, 8, 8, 1))), rng.integers(0, 3, size=48)
    gn.set_seed(0)
    model = gn.Sequential([L.Input(shape=(8, 8, 1)), L.Conv2D(6, 3, activation="relu", bias_initializer="ones"),
                           L.Conv2D(6, 3, activation="relu"), L.Flatten(), L.Dense(3, activation="softmax")])
    model.compile(optimizer=gn.optimizers.SGD(1e-4), loss="sparse_categorical_crossentropy")
    model.layers[1].kernel.value[...] = -np.abs(model.layers[1].kernel.value)  # inputs >= 0: every channel off
    model.layers[1].bias.value[...] = 0.0
    history = model.fit(x, y, epochs=1, batch_size=16, verbose=0, seed=0, diagnose=True)
    channels = [r for r in history.diagnostics.channels if r["layer"] == model.layers[1].name]
    assert [r["dead_fraction"] for r in channels] == [1.0] * 6
    assert any(f.name == "dying ReLU" and f.layer == model.layers[1].name for f in diagnose(history))

"""The attention glass box: AttentionMonitor's per-epoch head entropies, collapsed-head findings from
``diagnose``, the report's Attention section, and the shipped ``mnist-vit`` config."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet.app import config, runs
from glassnet.diagnostics import diagnose
from glassnet.diagnostics.attention import head_entropy
from glassnet.diagnostics.attention_diagnosis import attention_findings
from glassnet.diagnostics.attention_monitor import AttentionMonitor, AttentionRecord, attention_layers

L = gn.layers


def _tiny_vit(seed: int = 0) -> gn.Model:
    gn.backend.clear_session()  # the same layer names every time (a backup is matched by them)
    gn.set_seed(seed)
    x_in = L.Input(shape=(8, 8, 1))
    h = L.PatchEmbedding(4, 8)(x_in)
    h = L.PositionalEmbedding(4, 8)(h)
    h = L.TransformerEncoderBlock(2, 4, 16, name="enc")(h)
    h = L.GlobalAveragePooling1D()(h)
    model = gn.Model(inputs=x_in, outputs=L.Dense(3, activation="softmax")(h))
    model.compile(optimizer=gn.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    return model


def _images(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 8, 8, 1)).astype(np.float32), rng.integers(0, 3, size=n)


def test_the_monitor_records_each_heads_entropy_per_epoch_on_the_fixed_batch():
    model = _tiny_vit()
    x, y = _images(40)
    x_val = _images(10, seed=1)[0]
    monitor = AttentionMonitor(x_val, size=6, example=2)
    history = model.fit(x, y, epochs=3, batch_size=20, verbose=0, seed=0, callbacks=[monitor])
    record = history.attention
    assert record is monitor.record and record.layers == ["enc/self_attention"]
    assert record.epochs == [0, 1, 2] and record.batch_size == 6
    assert np.asarray(record.entropy["enc/self_attention"]).shape == (3, 2)  # (epochs, heads)
    # the last entry is the head entropy of the trained model on exactly those 6 validation inputs
    model.predict(x_val[:6], batch_size=6)
    mha = dict(attention_layers(model))["enc/self_attention"]
    np.testing.assert_allclose(record.entropy["enc/self_attention"][-1], head_entropy(mha.last_attention_scores))
    np.testing.assert_allclose(record.maps["enc/self_attention"], mha.last_attention_scores[2])
    assert record.maps["enc/self_attention"].shape == (2, 4, 4)
    assert len(set(map(tuple, record.entropy["enc/self_attention"]))) == 3  # it changed as the model trained


def test_the_monitor_skips_epochs_but_always_measures_the_last():
    model = _tiny_vit()
    x, y = _images(20)
    monitor = AttentionMonitor(x[:4], every=2)
    model.fit(x, y, epochs=4, batch_size=10, verbose=0, seed=0, callbacks=[monitor])
    assert monitor.record.epochs == [0, 2, 3]


def test_a_resumed_run_keeps_the_entropies_of_the_epochs_before(tmp_path):
    x, y = _images(20)
    whole = AttentionMonitor(x[:4])
    _tiny_vit().fit(x, y, epochs=3, batch_size=10, verbose=0, seed=0, callbacks=[whole])
    first = AttentionMonitor(x[:4])
    backup = gn.callbacks.BackupAndRestore(tmp_path / "backup", delete_checkpoint=False)
    _tiny_vit().fit(x, y, epochs=2, batch_size=10, verbose=0, seed=0, callbacks=[first, backup])
    resumed = AttentionMonitor(x[:4])
    backup = gn.callbacks.BackupAndRestore(tmp_path / "backup")
    _tiny_vit(seed=5).fit(x, y, epochs=3, batch_size=10, verbose=0, seed=0, callbacks=[resumed, backup])
    assert resumed.record.epochs == [0, 1, 2]
    np.testing.assert_allclose(resumed.record.entropy["enc/self_attention"], whole.record.entropy["enc/self_attention"])


def test_the_monitor_refuses_bad_arguments_clearly():
    with pytest.raises(gn.ConfigError, match="AttentionMonitor: example must be in \\[0, 3\\)"):
        AttentionMonitor(np.zeros((3, 8, 8, 1)), example=5)
    with pytest.raises(gn.ConfigError, match="AttentionMonitor: every must be a positive integer"):
        AttentionMonitor(np.zeros((3, 8, 8, 1)), every=0)
    with pytest.raises(gn.ConfigError, match="empty"):
        AttentionMonitor(np.zeros((0, 8, 8, 1)))


def test_for_fit_takes_the_validation_tail_and_ignores_models_without_attention():
    x = np.arange(100, dtype=np.float32).reshape(100, 1, 1, 1) * np.ones((1, 8, 8, 1), np.float32)
    monitor = AttentionMonitor.for_fit(_tiny_vit(), x, validation_split=0.2, size=5)
    assert monitor is not None
    np.testing.assert_array_equal(monitor.x[:, 0, 0, 0], [80, 81, 82, 83, 84])  # fit's last 20% are validation
    dense = gn.Sequential([L.Input(shape=(4,)), L.Dense(2)])
    assert AttentionMonitor.for_fit(dense, np.zeros((10, 4)), 0.2) is None


def _record(entropies: list[float]) -> AttentionRecord:
    return AttentionRecord(
        layers=["block/self_attention"],
        epochs=[0, 1],
        batch_size=8,
        entropy={"block/self_attention": [[0.5] * len(entropies), entropies]},
    )


def _scores(focus: np.ndarray) -> np.ndarray:
    """Attention probabilities (batch 4, heads, T 6, T 6) as softmax(focus[h] * noise)."""
    rng = np.random.default_rng(0)
    logits = focus[None, :, None, None] * rng.normal(size=(4, len(focus), 6, 6))
    p = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return p / p.sum(axis=-1, keepdims=True)


def test_diagnose_reports_a_head_that_collapsed_onto_one_key_and_one_that_went_uniform():
    # head 1: one-hot rows (sharp logits); head 2: healthy; head 3: all-equal scores (uniform)
    entropies = head_entropy(_scores(np.array([200.0, 1.5, 0.0])))
    assert entropies[0] < 0.01 and 0.3 < entropies[1] < 0.9 and entropies[2] == pytest.approx(1.0)
    findings = diagnose(_record(list(entropies)))
    assert [(f.name, f.layer) for f in findings] == [
        ("collapsed attention head (one key)", "block/self_attention"),
        ("collapsed attention head (uniform)", "block/self_attention"),
    ]
    assert "head 1 of 3" in findings[0].evidence and "epoch 2" in findings[0].evidence
    assert "same key" not in findings[0].evidence  # no maps recorded: nothing said about them
    assert "head 3 of 3" in findings[1].evidence and findings[1].remedies


def test_a_one_key_head_that_broadcasts_one_position_says_so():
    record = _record([0.01, 0.5])
    maps = np.full((2, 4, 4), 0.25)
    maps[0] = 0.0
    maps[0, :, 2] = 1.0  # every query looks at key 2
    record.maps = {"block/self_attention": maps}
    (finding,) = diagnose(record)
    assert "4 of 4 queries look at the same key (position 2)" in finding.evidence
    maps[0] = np.eye(4)  # a per-query lookup (e.g. the token itself): no shared key
    (finding,) = diagnose(record)
    assert "same key" not in finding.evidence


def test_diagnose_stays_silent_on_healthy_heads():
    entropies = head_entropy(_scores(np.array([1.0, 1.5, 2.5])))
    assert np.all((entropies > 0.2) & (entropies < 0.95))
    assert diagnose(_record(list(entropies))) == []
    assert attention_findings(None) == []


def test_diagnose_adds_attention_findings_to_the_gradient_monitor_findings():
    model = _tiny_vit()
    x, y = _images(40)
    history = model.fit(
        x, y, epochs=2, batch_size=20, verbose=0, seed=0, callbacks=[AttentionMonitor(x[:8])], diagnose=True
    )
    history.attention.entropy["enc/self_attention"][-1] = [0.01, 0.5]  # a constructed collapse
    names = [f.name for f in diagnose(history)]
    assert names.count("collapsed attention head (one key)") == 1


def test_the_report_section_draws_maps_and_entropy_curves(tmp_path):
    pytest.importorskip("matplotlib")
    from glassnet.app.attention_report import attention_section

    model = _tiny_vit()
    x, y = _images(30)
    model.fit(x, y, epochs=2, batch_size=10, verbose=0, seed=0, callbacks=[AttentionMonitor(x[:5])])
    run = type("Run", (), {"model": model})()
    title, text = attention_section(run, tmp_path, {}, {})
    assert title == "Attention" and "enc/self_attention" in text and "<table>" in text
    for name in ("attention_maps.png", "attention_entropy.png"):
        assert (tmp_path / "plots" / name).stat().st_size > 1000
    assert attention_section(type("Run", (), {"model": gn.Sequential([L.Dense(2)])})(), tmp_path, {}, {}) is None


def _mnist_slice(shared_data, folder, n_train: int = 300, n_test: int = 100) -> None:
    with np.load(shared_data / "mnist.npz") as d:
        np.savez(
            folder / "mnist.npz",
            x_train=d["x_train"][:n_train],
            y_train=d["y_train"][:n_train],
            x_test=d["x_test"][:n_test],
            y_test=d["y_test"][:n_test],
        )


def test_the_shipped_mnist_vit_config_resolves_and_trains_a_tiny_epoch(shared_data, tmp_path, monkeypatch):
    if not (shared_data / "mnist.npz").is_file():
        pytest.skip(f"{shared_data / 'mnist.npz'} not found")
    _mnist_slice(shared_data, tmp_path)
    monkeypatch.chdir(tmp_path)  # a shipped example run by name reads its data from the current folder
    table = config.load(config.find("mnist-vit"))
    assert table["data"]["path"] == os.path.join(str(tmp_path), "mnist.npz")
    table["data"]["limit"] = 200
    table["training"]["epochs"] = 1
    run = runs.setup(table)
    assert run.data.x_train.shape == (200, 28, 28, 1) and run.data.x_train.dtype == np.float32
    assert any(isinstance(layer, L.TransformerEncoderBlock) for layer in run.model.layers)
    result = runs.train(run, out=tmp_path / "runs", verbose=0)
    assert result.metrics["epochs_run"] == 1 and np.isfinite(result.history["loss"][0])
    report = (result.run_dir / "report.html").read_text()
    assert ">Attention<" in report and "/self_attention</code>" in report  # one row per attention layer
    if importlib.util.find_spec("matplotlib") is not None:
        assert (result.run_dir / "plots" / "attention_maps.png").is_file()


def test_a_token_model_is_monitored_on_its_integer_ids():
    gn.backend.clear_session()
    gn.set_seed(0)
    model = gn.Sequential(
        [
            L.Input(shape=(5,)),
            L.Embedding(7, 8),
            L.PositionalEmbedding(5, 8),
            L.TransformerDecoderBlock(2, 4, 16),
            L.Dense(7, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    ids = np.random.default_rng(0).integers(0, 7, size=(12, 5))
    monitor = AttentionMonitor(ids[:4])
    model.fit(ids, ids, epochs=1, batch_size=6, verbose=0, seed=0, callbacks=[monitor])
    maps = monitor.record.maps["transformer_decoder_block/self_attention"]
    assert maps.shape == (2, 5, 5) and np.allclose(np.triu(maps, 1), 0.0)  # causal
    np.testing.assert_allclose(maps.sum(axis=-1), 1.0, rtol=1e-5)

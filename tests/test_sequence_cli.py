"""Sequence data in the command line: [data] name = "text" / "sort", the shipped sequence configs,
the run folder's vocabulary, bits per character and exact-sequence accuracy (app/sequence_data.py,
app/sequence_report.py)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import glassnet as gn
from glassnet.app import config, runs, sequence_data, sequence_report
from glassnet.app.config_data import training_rows
from glassnet.text import CharVocabulary, generate

TEXT = ("Pack my box with five dozen liquor jugs! " * 10) + "The quick brown fox jumps over the lazy dog. " * 40


@pytest.fixture
def short_samples(monkeypatch):
    monkeypatch.setattr(sequence_report, "SAMPLE_LENGTH", 12)  # the report's generation, kept cheap


def tiny(name: str, **data) -> dict:
    """A shipped config with 1 epoch on a bounded slice of its data."""
    raw = config.load(config.find(name))
    raw["data"].update(data)
    raw["training"]["epochs"] = 1
    return raw


def text_file(tmp_path, text: str = TEXT):
    path = tmp_path / "corpus.txt"
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("name", ["text-lstm", "text-gpt"])
def test_text_configs_train_one_tiny_epoch_and_fill_the_run_folder(name, tmp_path, short_samples):
    run = runs.setup(tiny(name, characters=6000, limit=24))
    assert run.data.x_train.dtype == np.int64 and run.data.x_train.shape == (24, 64)
    assert run.model.output_shape == (64, run.data.vocabulary.size)
    assert run.config["model"]["layers"][0]["input_dim"] == run.data.vocabulary.size  # "$classes" filled in
    result = runs.train(run, out=tmp_path, verbose=0)
    metrics = json.loads((result.run_dir / "metrics.json").read_text())
    assert set(metrics["bits_per_character"]) == {"train", "validation", "test"}
    assert metrics["text"]["characters"]["train"] == 5400
    samples = (result.run_dir / "samples.txt").read_text()
    assert "--- temperature 0.5 ---\nThe " in samples and "--- temperature 1.0 ---\nThe " in samples
    page = (result.run_dir / "report.html").read_text()
    assert "bits per character" in page and "<h3>temperature 1.0</h3>" in page
    resumed = runs.setup(config.loads((result.run_dir / "config.toml").read_text()))  # the config re-creates it
    np.testing.assert_array_equal(resumed.data.x_train, run.data.x_train)


def test_sort_config_trains_one_tiny_epoch_and_reports_exact_sequence_accuracy(tmp_path):
    run = runs.setup(tiny("sort-gpt", repeat=2, limit=50))
    assert run.data.x_train.shape == (100, 11) and run.data.x_test.shape == (50, 11)
    result = runs.train(run, out=tmp_path, verbose=0)
    metrics = json.loads((result.run_dir / "metrics.json").read_text())
    accuracy = metrics["exact_sequence_accuracy"]
    expected = sequence_data.exact_sequence_accuracy(run.model, run.data.x_test[:, :6])
    assert accuracy["test"] == expected and 0.0 <= accuracy["train"] <= 1.0
    assert "Sort task: exact-sequence accuracy" in (result.run_dir / "report.html").read_text()


@pytest.mark.parametrize("name, file, shape", [("mnist-lstm", "mnist.npz", (28, 28)),
                                               ("mnist1d-gru", "mnist1d.npz", (40, 1))])
def test_npz_sequence_configs_train_one_tiny_epoch(name, file, shape, shared_data, tmp_path):
    raw = tiny(name, path=str(shared_data / file), limit=64)
    run = runs.setup(raw)
    assert run.data.input_shape == shape  # rows (or the signal) as time steps: the first layer is recurrent
    result = runs.train(run, out=tmp_path, verbose=0)
    assert result.metrics["status"] == "completed"


def test_shipped_npz_configs_point_at_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert config.load(config.find("mnist-lstm"))["data"]["path"] == str(tmp_path / "mnist.npz")
    assert config.load(config.find("mnist1d-gru"))["data"]["path"] == str(tmp_path / "mnist1d.npz")


def test_text_split_is_contiguous_ranges_without_overlap(tmp_path):
    table = sequence_data.resolve_table({"name": "text", "path": text_file(tmp_path), "block_size": 16,
                                         "test_size": 0.25}, seed=0)
    data = sequence_data.load_text(table)
    train_text, test_text = sequence_data.split_text(TEXT, 0.25)
    assert train_text + test_text == TEXT and len(test_text) == round(0.25 * len(TEXT))
    vocab = data.vocabulary

    def covered(x, y):  # the text the windows read: each window's inputs, then the last target
        return "".join(vocab.decode(row) for row in x) + vocab.decode(y[-1, -1:])

    assert train_text.startswith(covered(data.x_train, data.y_train))
    assert test_text.startswith(covered(data.x_test, data.y_test))
    assert len(covered(data.x_train, data.y_train)) > len(train_text) - 17  # every full window is used


def test_validation_windows_share_no_position_with_training_windows(tmp_path):
    # every character distinct, so an id names its position in the text
    text = "".join(chr(0x100 + i) for i in range(800))
    table = sequence_data.resolve_table({"name": "text", "path": text_file(tmp_path, text), "block_size": 10,
                                         "test_size": 0.0}, seed=0)
    data = sequence_data.load_text(table)
    cut = training_rows(len(data.x_train), 0.1)  # the rows fit(validation_split=0.1) validates on
    seen_in_training = set(data.x_train[:cut].ravel()) | set(data.y_train[:cut].ravel())
    assert not seen_in_training & set(data.y_train[cut:].ravel())  # no validation target was ever trained on
    assert len(seen_in_training & set(data.x_train[cut:].ravel())) <= 1  # the boundary character only


def test_vocabulary_comes_from_the_training_range_and_unknown_test_characters_are_dropped(tmp_path):
    text = "abcab" * 40 + "abzzc" * 8  # z only in the last 40 characters
    table = sequence_data.resolve_table({"name": "text", "path": text_file(tmp_path, text), "block_size": 4,
                                         "test_size": 0.2}, seed=0)
    data = sequence_data.load_text(table)
    assert data.vocabulary.chars == ("a", "b", "c") and data.n_classes == 4
    assert data.info["test_characters_dropped"] == 16
    assert data.vocabulary.decode(data.x_test[0]) == "caba"  # the test range starts at character 192


def test_vocabulary_round_trip_through_the_run_folder(tmp_path, short_samples):
    raw = tiny("text-lstm", path=text_file(tmp_path), block_size=16)
    raw["model"]["layers"][1]["units"] = 8
    run = runs.setup(raw)
    result = runs.train(run, out=tmp_path / "runs", verbose=0)
    vocab = sequence_data.load_vocabulary(result.run_dir)
    assert vocab == run.data.vocabulary and isinstance(vocab, CharVocabulary)
    assert json.loads((result.run_dir / "vocabulary.json").read_text())["padding_id"] == 0
    loaded = gn.load_model(result.run_dir / "model.glassnet")
    assert generate(loaded, vocab, "The ", 20, temperature=1.0, seed=3, context=16) == generate(
        run.model, run.data.vocabulary, "The ", 20, temperature=1.0, seed=3, context=16)
    with pytest.raises(gn.ConfigError, match="only runs on"):
        sequence_data.load_vocabulary(tmp_path)


def test_bits_per_character_is_the_test_cross_entropy_in_nats_over_ln_2(tmp_path, short_samples):
    raw = tiny("text-lstm", path=text_file(tmp_path), block_size=16)
    raw["model"]["layers"][1]["units"] = 8
    run = runs.setup(raw)
    result = runs.train(run, out=tmp_path, verbose=0)
    p = run.model.predict(run.data.x_test)
    picked = np.take_along_axis(p, run.data.y_test[..., None], axis=-1)[..., 0].astype(np.float64)
    by_hand = -np.mean(np.log2(picked))  # bits = -log2 p, per character
    assert result.metrics["bits_per_character"]["test"] == pytest.approx(by_hand, rel=1e-4)
    assert sequence_data.bits_per_character(3 * math.log(2)) == pytest.approx(3.0)


class Oracle:
    """Predicts the sorted digits right, except ``wrong_at`` (an output position) for inputs starting with 0."""

    def __init__(self, length: int, digits: int, wrong_at: int | None = None) -> None:
        self.length, self.digits, self.wrong_at = length, digits, wrong_at

    def predict(self, tokens, batch_size=None):
        n, t = tokens.shape
        answer = np.sort(tokens[:, : self.length], axis=1)
        nxt = np.zeros((n, t), dtype=np.int64)
        nxt[:, self.length - 1 :] = answer
        if self.wrong_at is not None:
            col = self.length - 1 + self.wrong_at
            nxt[tokens[:, 0] == 0, col] = (nxt[tokens[:, 0] == 0, col] + 1) % self.digits
        return np.eye(self.digits)[nxt]


def test_exact_sequence_accuracy_decodes_greedily_and_needs_every_token():
    data = sequence_data.load_sort(sequence_data.resolve_table({"name": "sort"}, seed=0))
    inputs = data.x_test[:, :6]
    assert sequence_data.exact_sequence_accuracy(Oracle(6, 3), inputs) == 1.0
    wrong = sequence_data.exact_sequence_accuracy(Oracle(6, 3, wrong_at=5), inputs)
    assert wrong == pytest.approx(np.mean(inputs[:, 0] != 0))


def test_sort_data_splits_every_input_once_and_shifts_targets_by_one():
    table = sequence_data.resolve_table({"name": "sort", "length": 4, "digits": 3, "repeat": 2}, seed=5)
    data = sequence_data.load_sort(table)
    train, test = {tuple(r) for r in data.train_inputs}, {tuple(r) for r in data.x_test[:, :4]}
    assert len(train) + len(test) == 81 and not train & test and len(test) == 20
    assert data.x_train.shape == (2 * 61, 7)
    np.testing.assert_array_equal(data.x_train[:, 1:], data.y_train[:, :-1])
    np.testing.assert_array_equal(data.y_train[:, 3:], np.sort(data.x_train[:, :4], axis=1))
    again = sequence_data.load_sort(table)
    np.testing.assert_array_equal(again.x_test, data.x_test)
    other = sequence_data.load_sort({**table, "seed": 6})
    assert not np.array_equal(other.x_test, data.x_test)


@pytest.mark.parametrize("data, prep, match", [
    ({"name": "text", "block": 64}, {}, "unknown key 'block'.*block_size"),
    ({"name": "sort", "path": "x.txt"}, {}, "unknown key 'path'"),
    ({"name": "text", "block_size": 0}, {}, "block_size must be an integer >= 1"),
    ({"name": "text", "task": "regression"}, {}, "predicts tokens"),
    ({"name": "sort", "digits": 10, "length": 7}, {}, "10,000,000 sequences"),
    ({"name": "sort", "length": 1}, {}, "length must be an integer >= 2"),
    ({"name": "text", "path": "/nonexistent/corpus.txt"}, {}, "cannot read it"),
    ({"name": "text", "characters": 50}, {}, "fewer than block_size"),
    ({"name": "text", "characters": 5000}, {"scaler": "standard"}, "token ids"),
])
def test_bad_sequence_data_tables_are_clear_errors(data, prep, match):
    with pytest.raises(gn.ConfigError, match=match):
        runs.setup({"data": data, "preprocessing": prep, "model": {"layers": [{"type": "Dense", "units": 2}]}})


def test_placeholders_need_numbers_the_data_has():
    raw = {"data": {"name": "regression", "n_samples": 40},
           "model": {"layers": [{"type": "Dense", "units": "$classes"}]}}
    with pytest.raises(gn.ConfigError, match=r"model.layers\[0\].units = '\$classes'"):
        runs.setup(raw)


def test_non_utf8_text_is_a_clear_error(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("caf\xe9 ".encode("latin-1") * 100)
    with pytest.raises(gn.ConfigError, match="not UTF-8"):
        runs.setup({"data": {"name": "text", "path": str(path)}})


def test_sort_metrics_without_held_out_inputs_leave_the_test_figure_out():
    table = sequence_data.resolve_table({"name": "sort", "length": 3, "test_size": 0.0}, seed=0)
    data = sequence_data.load_sort(table)
    assert data.x_test.shape == (0, 5)
    out = sequence_data.sequence_metrics(Oracle(3, 3), data, {})
    assert out["exact_sequence_accuracy"] == {"train": 1.0}
    json.dumps(out, allow_nan=False)  # metrics.json stays strict JSON

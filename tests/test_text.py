"""glassnet.text: vocabulary, windows, the pydoc corpus, seeded sampling (temperature, top_k)."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.text import CharVocabulary, generate, pydoc_corpus, sample_next


def _model(vocab):
    gn.set_seed(0)
    model = gn.Sequential([gn.layers.Embedding(vocab.size, 4), gn.layers.LSTM(6, return_sequences=True),
                           gn.layers.Dense(vocab.size, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def test_vocabulary_round_trip_and_windows():
    vocab = CharVocabulary.from_text("hello world")
    assert vocab.size == len(set("hello world")) + 1  # id 0 is padding
    ids = vocab.encode("hello")
    assert ids.dtype == np.int64 and ids.min() >= 1
    assert vocab.decode(ids) == "hello"
    x, y = vocab.windows("hello world", block_size=4, stride=2)
    assert x.shape == y.shape == (4, 4)
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])
    assert vocab.decode(x[1]) == "llo "
    with pytest.raises(gn.errors.ConfigError, match="'z' is not in the vocabulary"):
        vocab.encode("zebra")


def test_pydoc_corpus_is_offline_english_text():
    text = pydoc_corpus()
    assert len(text) > 100_000 and "statement" in text


def test_generate_is_seeded_and_temperature_zero_is_greedy():
    vocab = CharVocabulary.from_text("abcde ")
    model = _model(vocab)
    x, y = vocab.windows("abcde " * 40, block_size=8, stride=3)
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, seed=0)
    a = generate(model, vocab, "ab", 30, temperature=1.0, seed=3)
    assert a == generate(model, vocab, "ab", 30, temperature=1.0, seed=3)
    assert a.startswith("ab") and len(a) == 32 and set(a) <= set(vocab.chars)
    greedy = generate(model, vocab, "ab", 10, temperature=0.0)
    assert greedy == generate(model, vocab, "ab", 10, temperature=1.0, top_k=1, seed=9)
    assert len(generate(model, vocab, "abcabc", 5, context=4, seed=0)) == 11


def test_sample_next_respects_top_k_temperature_and_never_pads():
    rng = np.random.default_rng(0)
    p = np.array([0.5, 0.3, 0.15, 0.05])  # id 0 (padding) is never drawn, even as the most likely
    draws = [sample_next(p, 1.0, 2, rng) for _ in range(300)]
    assert set(draws) == {1, 2}
    assert abs(np.mean(np.array(draws) == 1) - 0.3 / 0.45) < 0.08
    cold = [sample_next(p, 0.05, None, rng) for _ in range(50)]
    assert set(cold) == {1}

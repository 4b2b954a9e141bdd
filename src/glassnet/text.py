"""Character-level text: a vocabulary, training windows, a corpus every Python carries, and sampling.

    vocab = CharVocabulary.from_text(text)          # id 0 is reserved for padding (Embedding mask_zero)
    x, y = vocab.windows(text, block_size=64)       # y[:, t] = the character after x[:, t]
    gn.text.generate(model, vocab, "def ", 200, temperature=0.8, seed=0)

``generate`` samples one character at a time from p_i proportional to exp(log p_model(i) / temperature)
(temperature -> 0: the most likely character; 1: the model's own distribution; > 1: flatter), keeping
only the ``top_k`` most likely characters when given.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._typing import Array
from .errors import ConfigError

PAD = "\x00"


@dataclass(frozen=True)
class CharVocabulary:
    """Characters <-> ids: id 0 is the padding symbol, ids 1.. the characters in sorted order."""

    chars: tuple[str, ...]

    @classmethod
    def from_text(cls, text: str) -> CharVocabulary:
        return cls(tuple(sorted(set(text) - {PAD})))

    @property
    def size(self) -> int:
        """Number of ids, padding included: the ``input_dim`` of an Embedding and the output width."""
        return len(self.chars) + 1

    def encode(self, text: str) -> Array:
        """Ids of ``text`` (int64); a character outside the vocabulary is an error naming it."""
        table = {c: i + 1 for i, c in enumerate(self.chars)}
        try:
            return np.fromiter((table[c] for c in text), dtype=np.int64, count=len(text))
        except KeyError as exc:
            raise ConfigError(f"character {exc.args[0]!r} is not in the vocabulary of {len(self.chars)} "
                              "characters; hint: build the vocabulary from text that contains it") from None

    def decode(self, ids: Sequence[int] | Array) -> str:
        return "".join(self.chars[i - 1] if i > 0 else "" for i in np.asarray(ids, dtype=np.int64).ravel())

    def windows(self, text: str | Array, block_size: int, stride: int | None = None) -> tuple[Array, Array]:
        """(x, y) of shape (n, block_size): consecutive windows of the text, y shifted by one character.

        Built as strided views of the id array, copied once; ``stride`` defaults to ``block_size``.
        """
        ids = self.encode(text) if isinstance(text, str) else np.asarray(text, dtype=np.int64)
        step = stride or block_size
        n = (len(ids) - 1 - block_size) // step + 1
        if n < 1:
            raise ConfigError(f"a text of {len(ids)} characters holds no window of block_size={block_size} + 1")
        starts = np.arange(n) * step
        index = starts[:, None] + np.arange(block_size)[None, :]
        return ids[index], ids[index + 1]


def pydoc_corpus() -> str:
    """The text of Python's reference documentation shipped in the standard library (``pydoc_data``).

    About 465,000 characters of English technical prose on Python 3.11 (PSF license); the exact text
    depends on the Python version, so record ``sys.version`` beside any figure measured on it.
    """
    import pydoc_data.topics

    return "\n".join(pydoc_data.topics.topics.values())


def corpus_version() -> str:
    return f"pydoc_data of Python {sys.version.split()[0]}"


def sample_next(probabilities: Array, temperature: float, top_k: int | None, rng: np.random.Generator) -> int:
    """One id drawn from probabilities ** (1 / temperature), renormalized, over the top_k most likely."""
    p = np.asarray(probabilities, dtype=np.float64).copy()
    p[0] = 0.0  # never emit the padding id
    if top_k is not None and top_k < len(p):
        cutoff = np.partition(p, -top_k)[-top_k]
        p[p < cutoff] = 0.0
    if temperature <= 0:
        return int(np.argmax(p))
    logp = np.log(np.maximum(p, 1e-300)) / temperature
    logp[p == 0] = -np.inf
    logp -= logp.max()
    q = np.exp(logp)
    return int(rng.choice(len(q), p=q / q.sum()))


def generate(model: Any, vocab: CharVocabulary, prompt: str, length: int, temperature: float = 1.0,
             top_k: int | None = None, seed: int | None = None, context: int | None = None) -> str:
    """``prompt`` followed by ``length`` sampled characters (reproducible for a given ``seed``).

    The model maps ids (1, T) to next-character probabilities, (1, T, vocab.size) (``return_sequences``
    and a softmax Dense) or (1, vocab.size); the last step's distribution is sampled. ``context``
    limits the ids fed back to the last ``context`` ones (for a model trained on a fixed block_size);
    by default the whole text so far. The layers are run directly (``layers.masking.forward_layers``),
    so the length may grow past the model's declared input shape.
    """
    if length < 0:
        raise ConfigError(f"generate: length must be >= 0, got {length}")
    if not prompt:
        raise ConfigError("generate: the prompt must hold at least one character")
    if top_k is not None and top_k < 1:
        raise ConfigError(f"generate: top_k must be a positive integer or None, got {top_k!r}")
    from .layers.masking import forward_layers

    rng = np.random.default_rng(seed)
    ids = list(vocab.encode(prompt))
    layers = getattr(model, "layers", [model])
    for _ in range(length):
        window = np.asarray(ids[-context:] if context else ids, dtype=np.int64)[None, :]
        probabilities = np.asarray(forward_layers(layers, window))
        last = probabilities[0, -1] if probabilities.ndim == 3 else probabilities[0]
        ids.append(sample_next(last, temperature, top_k, rng))
    return vocab.decode(ids)


__all__ = ["CharVocabulary", "corpus_version", "generate", "pydoc_corpus", "sample_next"]

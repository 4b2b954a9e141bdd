"""Token-sequence sources for ``[data]``: character-level text and minGPT's sort task.

[data] name = "text"   path (a UTF-8 text file; none: ``glassnet.text.pydoc_corpus()``, Python's own
                        reference documentation, so the run needs no download), block_size (64),
                        characters (read at most this many characters), test_size (0.1), limit (max
                        windows per split). Windows x[t] = id of character i + t, y[t] = id of
                        character i + t + 1 (next character at every position), stride = block_size.
[data] name = "sort"   length (6), digits (3), test_size (0.25), repeat (10), limit, seed: every
                        sequence of ``length`` digits in [0, digits) is split once, seeded, into
                        held-out and training inputs; x = input + sorted input without its last
                        token (2 length - 1 ids), y = the same shifted by one (next token everywhere).

Text is split by contiguous character ranges, never by random windows: the first ``1 - test_size``
of the characters trains (and ``fit``'s ``validation_split`` validates on the last windows of that
range, again contiguous), the rest tests; no window of one range overlaps another. The vocabulary is
built from the training range only and written to ``vocabulary.json`` in the run folder
(``load_vocabulary``), so ``gn.text.generate`` works on a loaded model; characters of the test range
that the training range lacks are dropped (their count is in ``metrics.json``).

Layer arguments in ``[[model.layers]]`` may say ``"$classes"`` (the vocabulary size, or the number of
classes of any classification data) and ``"$timesteps"`` (block_size, the sequence length): they
are replaced by the numbers when the model is built and written out as numbers in the run's config.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._typing import Array
from ..errors import ConfigError
from ..text import PAD, CharVocabulary, corpus_version, pydoc_corpus
from .config import check_keys, number
from .config_data import PreparedData

NAMES = ("text", "sort")
KEYS = {
    "text": ("name", "path", "block_size", "characters", "test_size", "limit", "seed", "task"),
    "sort": ("name", "length", "digits", "test_size", "repeat", "limit", "seed", "task"),
}
DEFAULTS: dict[str, dict[str, Any]] = {
    "text": {"block_size": 64, "test_size": 0.1},
    "sort": {"length": 6, "digits": 3, "test_size": 0.25, "repeat": 10},
}
VOCABULARY_FILE = "vocabulary.json"
MAX_SORT_SEQUENCES = 1_000_000


@dataclass
class SequenceData(PreparedData):
    """Integer token windows (x and y of shape (n, T)) and what the report needs to know of them."""

    kind: str = "text"
    vocabulary: CharVocabulary | None = None
    info: dict[str, Any] = field(default_factory=dict)
    train_inputs: Array | None = field(default=None, repr=False)  # sort: the distinct training inputs


def resolve_table(table: dict[str, Any], seed: int) -> dict[str, Any]:
    """[data] for a sequence source with its defaults filled in, every key checked."""
    name = table["name"]
    check_keys(table, KEYS[name], f"data (name = {name!r})")
    table = {**table, **{k: v for k, v in DEFAULTS[name].items() if k not in table}}
    table.setdefault("seed", seed)
    number(table, "seed", "data", 0, integer=True)
    number(table, "test_size", "data", 0.0, 1.0)
    if table.get("task", "classification") != "classification":
        raise ConfigError(f'data.task: name = {name!r} predicts tokens, so task = "classification"; '
                          f"got {table['task']!r}")
    for key in ("limit", "characters", "block_size", "repeat"):
        if key in table:
            number(table, key, "data", 1, integer=True)
    if name == "sort":
        number(table, "length", "data", 2, integer=True)
        number(table, "digits", "data", 2, integer=True)
        if table["digits"] ** table["length"] > MAX_SORT_SEQUENCES:
            raise ConfigError(f"data: sort with digits = {table['digits']}, length = {table['length']} has "
                              f"{table['digits'] ** table['length']:,} sequences, more than {MAX_SORT_SEQUENCES:,}; "
                              "hint: lower length or digits")
    elif "path" in table and not isinstance(table["path"], str):
        raise ConfigError(f"data.path must be the path of a UTF-8 text file, got {table['path']!r}")
    return table


def _read_text(table: dict[str, Any]) -> tuple[str, str]:
    if "path" not in table:
        return pydoc_corpus(), corpus_version()
    try:
        text = Path(table["path"]).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"data.path {table['path']}: cannot read it: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"data.path {table['path']}: not UTF-8 text ({exc.reason} at byte {exc.start}); "
                          "hint: convert it, e.g. iconv -t utf-8") from None
    return text, str(table["path"])


def split_text(text: str, test_size: float) -> tuple[str, str]:
    """(training range, test range): the first and last characters, cut once (no random windows)."""
    n_test = int(round(test_size * len(text)))
    return text[: len(text) - n_test], text[len(text) - n_test :]


def _windows(vocab: CharVocabulary, text: str, block: int, where: str) -> tuple[Array, Array]:
    if len(text) < block + 1:
        raise ConfigError(f"data (name = 'text'): the {where} text has {len(text):,} characters, fewer than "
                          f"block_size + 1 = {block + 1}; hint: lower block_size or test_size, or use more text")
    return vocab.windows(text, block)


def _known(text: str, vocab: CharVocabulary) -> tuple[str, int]:
    """``text`` without the characters outside ``vocab``, and how many there were (one vectorized
    pass over the code points)."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    known = np.fromiter((ord(c) for c in vocab.chars), dtype=np.uint32, count=len(vocab.chars))
    kept = codes[np.isin(codes, known)]
    return kept.tobytes().decode("utf-32-le"), len(codes) - len(kept)


def load_text(table: dict[str, Any]) -> SequenceData:
    """Next-character windows of the training and test ranges of the text, and the vocabulary."""
    text, source = _read_text(table)
    text = text.replace(PAD, "")  # id 0 is padding, never a character
    if "characters" in table:
        text = text[: table["characters"]]
    train_text, test_text = split_text(text, table["test_size"])
    vocab = CharVocabulary.from_text(train_text)
    test_text, dropped = _known(test_text, vocab)
    block = table["block_size"]
    x, y = _windows(vocab, train_text, block, "training")
    if test_text:
        x_test, y_test = _windows(vocab, test_text, block, "test")
    else:
        x_test = y_test = np.zeros((0, block), dtype=np.int64)
    limit = table.get("limit")
    if limit:
        x, y, x_test, y_test = x[:limit], y[:limit], x_test[:limit], y_test[:limit]
    info = {"source": source, "characters": {"train": len(train_text), "test": len(test_text)},
            "test_characters_dropped": dropped, "vocabulary_size": vocab.size}
    return SequenceData(x, y, x_test, y_test, "classification", vocab.size, _as_ids, kind="text",
                        vocabulary=vocab, info=info)


def sort_examples(inputs: Array) -> tuple[Array, Array]:
    """x = [input, sorted input][:-1], y = [input, sorted input][1:], both (n, 2 length - 1)."""
    joined = np.concatenate([inputs, np.sort(inputs, axis=1)], axis=1)
    return joined[:, :-1], joined[:, 1:]


def load_sort(table: dict[str, Any]) -> SequenceData:
    """minGPT's sort task: all digits ** length inputs split once (seeded); training inputs repeated."""
    length, digits = table["length"], table["digits"]
    every = np.indices((digits,) * length).reshape(length, -1).T.astype(np.int64)  # lexicographic order
    order = np.random.default_rng(table["seed"]).permutation(len(every))
    n_test = int(round(table["test_size"] * len(every)))
    if not n_test < len(every):
        raise ConfigError(f"data.test_size = {table['test_size']} leaves no training input of {len(every)}")
    train_inputs, test_inputs = every[order[n_test:]], every[order[:n_test]]
    limit = table.get("limit")
    if limit:
        train_inputs, test_inputs = train_inputs[:limit], test_inputs[:limit]
    x, y = sort_examples(np.tile(train_inputs, (table["repeat"], 1)))
    x_test, y_test = sort_examples(test_inputs)
    info = {"inputs": {"train": len(train_inputs), "test": len(test_inputs)}, "length": length}
    return SequenceData(x, y, x_test, y_test, "classification", digits, _as_ids, kind="sort", info=info,
                        train_inputs=train_inputs)


def _as_ids(a: Array) -> Array:
    return np.asarray(a, dtype=np.int64)


def prepare(data_table: dict[str, Any], prep_table: dict[str, Any]) -> tuple[dict[str, Any], SequenceData]:
    """The arrays of a resolved sequence [data] table; token ids take no [preprocessing]."""
    if any(prep_table.get(k, d) != d for k, d in (("rescale", 1.0), ("scaler", "none"))) or set(prep_table) - {
        "rescale", "scaler"
    }:
        raise ConfigError(f"preprocessing: data.name = {data_table['name']!r} gives integer token ids, which are "
                          f"not rescaled or scaled; got {prep_table}; hint: remove the [preprocessing] table")
    data = load_text(data_table) if data_table["name"] == "text" else load_sort(data_table)
    return {}, data


def fill_placeholders(specs: list[Any], data: PreparedData) -> list[Any]:
    """Layer specs with "$classes" and "$timesteps" replaced by the data's numbers."""
    values: dict[str, int | None] = {
        "$classes": data.n_classes,
        "$timesteps": data.input_shape[0] if data.input_shape else None,
    }

    def fill(value: Any, where: str) -> Any:
        if isinstance(value, str) and value in values:
            if values[value] is None:
                raise ConfigError(f"{where} = {value!r}: this data has no such number; hint: write the number")
            return values[value]
        return value

    return [
        {k: fill(v, f"model.layers[{i}].{k}") for k, v in spec.items()} if isinstance(spec, dict) else spec
        for i, spec in enumerate(specs)
    ]


def write_vocabulary(run_dir: Path, data: PreparedData) -> None:
    """``vocabulary.json`` (characters by id, id 0 = padding) for a text run; nothing for other data."""
    from .run_files import write_json

    if isinstance(data, SequenceData) and data.vocabulary is not None:
        write_json(run_dir / VOCABULARY_FILE, {"chars": list(data.vocabulary.chars), "padding_id": 0,
                                               "source": data.info.get("source")})


def load_vocabulary(run_dir: str | Path) -> CharVocabulary:
    """The vocabulary a text run was trained with: ``generate(gn.load_model(...), vocab, ...)``."""
    path = Path(run_dir) / VOCABULARY_FILE
    try:
        chars = json.loads(path.read_text(encoding="utf-8"))["chars"]
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror or exc}); hint: only runs on "
                          '[data] name = "text" have a vocabulary') from None
    return CharVocabulary(tuple(chars))


def greedy_sort(model: Any, inputs: Array) -> Array:
    """The model's sorted sequence for each input, decoded greedily one token at a time.

    The positions not generated yet hold id 0; attention is causal, so they cannot change the
    prediction at earlier positions: the token read at position length - 1 + k is exact."""
    n, length = inputs.shape
    tokens = np.zeros((n, 2 * length - 1), dtype=np.int64)
    tokens[:, :length] = inputs
    out = np.zeros((n, length), dtype=np.int64)
    for k in range(length):
        out[:, k] = model.predict(tokens, batch_size=512)[:, length - 1 + k].argmax(axis=-1)
        if length + k < tokens.shape[1]:
            tokens[:, length + k] = out[:, k]
    return out


def exact_sequence_accuracy(model: Any, inputs: Array) -> float | None:
    """Fraction of inputs whose whole sorted sequence the model decodes right (None without inputs)."""
    if not len(inputs):
        return None
    return float(np.mean(np.all(greedy_sort(model, inputs) == np.sort(inputs, axis=1), axis=1)))


def bits_per_character(nats: float) -> float:
    """Cross-entropy in bits: nats / ln 2."""
    return float(nats) / math.log(2.0)


def sequence_metrics(model: Any, data: PreparedData, metrics: dict[str, Any]) -> dict[str, Any]:
    """What metrics.json adds for sequence data: bits per character per split (text), or the
    exact-sequence accuracy of greedy decoding on held-out and training inputs (sort)."""
    if not isinstance(data, SequenceData):
        return {}
    if data.kind == "text":
        bits = {split: round(bits_per_character(values["loss"]), 5)
                for split in ("train", "validation", "test") if (values := metrics.get(split))}
        return {"bits_per_character": bits, "text": data.info}
    inputs = {"test": data.x_test[:, : data.info["length"]], "train": data.train_inputs}
    accuracy = {split: exact_sequence_accuracy(model, x) for split, x in inputs.items() if x is not None}
    return {"exact_sequence_accuracy": {k: v for k, v in accuracy.items() if v is not None}, "sort": data.info}


__all__ = [
    "NAMES",
    "SequenceData",
    "bits_per_character",
    "exact_sequence_accuracy",
    "fill_placeholders",
    "greedy_sort",
    "load_sort",
    "load_text",
    "load_vocabulary",
    "prepare",
    "resolve_table",
    "sequence_metrics",
    "sort_examples",
    "split_text",
    "write_vocabulary",
]

"""Report sections for token-sequence runs (``[data] name = "text"`` or ``"sort"``).

Text: the loss in bits per character (cross-entropy in nats / ln 2) on each split and samples of
generated text at temperatures 0.5 and 1.0 (``gn.text.generate``, seeded by the run's seed, the
context cut to the block_size the model trained on), also written to ``samples.txt``.
Sort: the exact-sequence accuracy of greedy decoding on the held-out inputs and the training inputs,
and a few held-out inputs with the model's answer.
Imported by ``runs.train``, which registers the section.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..text import CharVocabulary, generate
from .report import key_value_table
from .run_files import write_text
from .run_report import register_section
from .sequence_data import SequenceData, greedy_sort

if TYPE_CHECKING:
    from .runs import RunSetup

TEMPERATURES = (0.5, 1.0)
SAMPLE_LENGTH = 300
SORT_EXAMPLES = 8


def sample_prompt(vocab: CharVocabulary, test_x: Any) -> str:
    """"The " when the vocabulary has those characters, else the first 4 characters of the test text."""
    if set("The ") <= set(vocab.chars):
        return "The "
    return vocab.decode(test_x[0, :4]) if len(test_x) else vocab.chars[0]


def text_samples(run: RunSetup, seed: int) -> list[tuple[float, str]]:
    """(temperature, prompt + SAMPLE_LENGTH generated characters) for each of TEMPERATURES."""
    data = run.data
    assert isinstance(data, SequenceData) and data.vocabulary is not None
    prompt = sample_prompt(data.vocabulary, data.x_test)
    block = int(run.config["data"]["block_size"])
    return [(t, generate(run.model, data.vocabulary, prompt, SAMPLE_LENGTH, temperature=t, seed=seed,
                         context=block)) for t in TEMPERATURES]


def _text_section(run: RunSetup, run_dir: Path, metrics: dict[str, Any]) -> str:
    bits = metrics.get("bits_per_character", {})
    rows: dict[str, Any] = {f"{split} loss, bits per character": float(value) for split, value in bits.items()}
    info = run.data.info  # type: ignore[attr-defined]
    rows["text"] = (f"{info['source']}: {info['characters']['train']:,} training characters, "
                    f"{info['characters']['test']:,} test, vocabulary {info['vocabulary_size']} ids (0 = padding)")
    if info["test_characters_dropped"]:
        rows["test characters not in the vocabulary (dropped)"] = int(info["test_characters_dropped"])
    samples = text_samples(run, int(run.config["training"]["seed"]))
    write_text(run_dir / "samples.txt", "".join(f"--- temperature {t} ---\n{s}\n\n" for t, s in samples))
    parts = [key_value_table(rows), "<p>bits per character = cross-entropy (nats) / ln 2.</p>"]
    for t, sample in samples:
        parts.append(f"<h3>temperature {t}</h3><pre>{html.escape(sample)}</pre>")
    return "\n".join(parts)


def _sort_section(run: RunSetup, metrics: dict[str, Any]) -> str:
    data = run.data
    length = int(data.info["length"])  # type: ignore[attr-defined]
    accuracy = metrics.get("exact_sequence_accuracy", {})
    rows: dict[str, Any] = {f"exact-sequence accuracy, {split} inputs": float(value)
                            for split, value in accuracy.items()}
    rows["inputs"] = ", ".join(f"{n:,} {split}" for split, n in data.info["inputs"].items())  # type: ignore
    inputs = data.x_test[:SORT_EXAMPLES, :length]
    answers = greedy_sort(run.model, inputs) if len(inputs) else np.zeros((0, length), dtype=np.int64)
    lines = [f"{' '.join(map(str, x))} -> {' '.join(map(str, a))}" + ("" if np.array_equal(a, np.sort(x))
                                                                       else "   (wrong)")
             for x, a in zip(inputs, answers)]
    return "\n".join([key_value_table(rows), "<p>Greedy decoding one token at a time; a sequence counts only if "
                      "every token is right. Held-out inputs and the model's answers:</p>",
                      f"<pre>{html.escape(chr(10).join(lines))}</pre>"])


@register_section
def sequence_section(
    run: RunSetup, run_dir: Path, history: dict[str, list[float]], metrics: dict[str, Any]
) -> tuple[str, str] | None:
    """The text or sort section of the report; None for other data."""
    if not isinstance(run.data, SequenceData):
        return None
    if run.data.kind == "text":
        return "Language model: bits per character and samples", _text_section(run, run_dir, metrics)
    return "Sort task: exact-sequence accuracy", _sort_section(run, metrics)


__all__ = ["sample_prompt", "sequence_section", "text_samples"]

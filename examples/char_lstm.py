"""A character-level LSTM language model on Python's own reference documentation (no download).

The corpus is ``glassnet.text.pydoc_corpus()``; its last 10% is the validation text. Windows of
``--block`` characters (stride = block) train Embedding(vocab, 32) -> LSTM(units, return_sequences)
-> Dense(vocab, softmax) to predict each next character; Adam (``--lr``, 4e-3), global_clipnorm 1.
Reported: the validation loss in bits per character (cross-entropy / ln 2) after each epoch, and samples at
temperatures 0.5 and 1.0. Usage (numbers in docs/recurrent.md):

    PYTHONPATH=src python examples/char_lstm.py --epochs 12 --units 256
"""

from __future__ import annotations

import argparse
import math
import time

import glassnet as gn
from glassnet.text import CharVocabulary, corpus_version, generate, pydoc_corpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--block", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr", type=float, default=4e-3)
    args = parser.parse_args()
    text = pydoc_corpus()
    vocab = CharVocabulary.from_text(text)
    cut = int(0.9 * len(text))
    x, y = vocab.windows(text[:cut], args.block)
    x_val, y_val = vocab.windows(text[cut:], args.block)
    print(f"{corpus_version()}: {len(text):,} characters, {vocab.size - 1} distinct; {len(x):,} training "
          f"windows of {args.block}", flush=True)
    gn.set_seed(args.seed)
    model = gn.Sequential([gn.layers.Embedding(vocab.size, 32), gn.layers.LSTM(args.units, return_sequences=True),
                           gn.layers.Dense(vocab.size, activation="softmax")])
    model.compile(optimizer=gn.optimizers.Adam(args.lr, global_clipnorm=1.0), loss="sparse_categorical_crossentropy")
    start = time.perf_counter()
    for epoch in range(args.epochs):
        history = model.fit(x, y, epochs=1, batch_size=64, verbose=0, seed=args.seed + epoch)
        val = model.evaluate(x_val, y_val, batch_size=256)["loss"]
        print(f"epoch {epoch + 1}: train {history.history['loss'][-1] / math.log(2):.3f} bits/char, validation "
              f"{val / math.log(2):.3f} bits/char ({time.perf_counter() - start:.0f} s)", flush=True)
    for temperature in (0.5, 1.0):
        sample = generate(model, vocab, "The ", 300, temperature=temperature, seed=0, context=args.block)
        print(f"\n--- temperature {temperature} ---\n{sample}", flush=True)


if __name__ == "__main__":
    main()

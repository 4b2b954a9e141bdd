"""minGPT's sort task with a small glassnet GPT: learn to sort 6 digits over 3 symbols.

    OPENBLAS_NUM_THREADS=1 python examples/sort_gpt.py            # 2,000 steps, about 1.5 min on one core
    OPENBLAS_NUM_THREADS=1 python examples/sort_gpt.py --steps 300  # a quick look

(Tiny matrices: one BLAS thread is faster, and far faster on a machine shared with other work.)
Writes docs/sort_gpt_attention.png, the attention maps of one held-out input.

Task (Karpathy's minGPT ``demo.ipynb``): an input of 6 digits in {0, 1, 2}, e.g. 0 1 2 0 2 1, and its sorted
form 0 0 1 1 2 2 are joined into 12 tokens; the model reads the first 11 and predicts each next token.
Only the 6 predictions of the sorted half count in the loss (the input half is random and cannot be
predicted). Model (minGPT's "gpt-nano"): 3 decoder-only blocks (causal self-attention, pre-LN), 3 heads,
d = 48, feed-forward 192, GELU (tanh form, as minGPT), dropout 0.1, Adam.

All 3^6 = 729 inputs are split once: 25% held out (never trained on), 75% to sample training batches from.
Evaluation: greedy decoding, one token at a time, of the 6 sorted digits after each held-out input; a
sequence counts only if all 6 are right (exact-sequence accuracy).

Tokens enter as integer ids into an ``Embedding`` (the first measurements in docs/transformer.md used
one-hot vectors into a bias-free Dense, onehot(t) @ K = K[t]: the same function, another initializer).
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path
from typing import Any

import numpy as np

import glassnet as gn

LENGTH, DIGITS = 6, 3
T = 2 * LENGTH - 1  # the model reads 11 tokens
L = gn.layers


def make_split(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """All 729 inputs (729, 6), shuffled, as (train, held out) with 25% held out."""
    every = np.array(list(itertools.product(range(DIGITS), repeat=LENGTH)))
    order = np.random.default_rng(seed).permutation(len(every))
    n_test = len(every) // 4
    return every[order[n_test:]], every[order[:n_test]]


def as_examples(inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(token ids x (n, 11), next-token targets (n, 11), loss weights (n, 11): 1 on the sorted half)."""
    joined = np.concatenate([inputs, np.sort(inputs, axis=1)], axis=1)
    x = joined[:, :-1]
    y = joined[:, 1:]
    weights = np.zeros(y.shape, dtype=gn.floatx())
    weights[:, LENGTH - 1:] = 1.0  # the targets at positions 5..10 are the 6 sorted digits
    return x, y, weights


def build(layers: int = 3, heads: int = 3, width: int = 48, dropout: float = 0.1) -> Any:
    x_in = L.Input(shape=(T,))
    h = L.Embedding(DIGITS, width, name="token_embedding")(x_in)
    h = L.PositionalEmbedding(T, width)(h)
    for _ in range(layers):
        h = L.TransformerDecoderBlock(heads, width // heads, 4 * width, dropout=dropout,
                                      activation={"class_name": "GELU", "config": {"approximate": "tanh"}})(h)
    h = L.LayerNormalization(epsilon=1e-5)(h)
    return gn.Model(inputs=x_in, outputs=L.Dense(DIGITS, name="logits")(h))


def masked_cross_entropy(logits: np.ndarray, y: np.ndarray, weights: np.ndarray) -> tuple[float, np.ndarray]:
    """L = sum_{n,t} w_nt (-log softmax(z_nt)[y_nt]) / sum w;  dL/dz = w (softmax(z) - onehot(y)) / sum w."""
    z = logits - logits.max(axis=-1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=-1, keepdims=True)
    picked = np.take_along_axis(p, y[..., None], axis=-1)[..., 0]
    total = weights.sum()
    loss = float(-(weights * np.log(picked)).sum() / total)
    grad = p
    np.put_along_axis(grad, y[..., None], np.take_along_axis(grad, y[..., None], axis=-1) - 1.0, axis=-1)
    grad *= (weights / total)[..., None]
    return loss, grad


def greedy_sort(model: Any, inputs: np.ndarray) -> np.ndarray:
    """Generate the 6 sorted digits after each input, one token at a time, feeding back the argmax.

    The model takes 11 positions; the ones not generated yet hold id 0. Attention is causal, so
    they cannot change the logits at earlier positions: the prediction at position t - 1 is exact."""
    n = len(inputs)
    tokens = np.zeros((n, T), dtype=np.int64)
    tokens[:, :LENGTH] = inputs
    known = LENGTH
    out = np.zeros((n, LENGTH), dtype=np.int64)
    for k in range(LENGTH):
        x = tokens.copy()
        x[:, known:] = 0  # not generated yet: causal attention keeps them from the logits read here
        logits = model.predict(x, batch_size=256)
        out[:, k] = logits[:, known - 1].argmax(axis=-1)
        if known < T:
            tokens[:, known] = out[:, k]
            known += 1
    return out


def exact_accuracy(model: Any, inputs: np.ndarray) -> float:
    return float(np.mean(np.all(greedy_sort(model, inputs) == np.sort(inputs, axis=1), axis=1)))


def train(steps: int, batch: int, learning_rate: float, seed: int, log_every: int = 250) -> tuple[Any, dict]:
    gn.set_seed(seed)
    train_inputs, test_inputs = make_split(seed)
    model = build()
    schedule = gn.schedules.CosineDecay(learning_rate, decay_steps=steps, alpha=0.05)  # settles at the end
    optimizer = gn.optimizers.Adam(learning_rate=schedule, global_clipnorm=1.0)
    params = model.parameters(trainable_only=True)
    rng = np.random.default_rng(seed + 1)
    history: dict[str, list] = {"step": [], "loss": [], "test_exact": []}
    start = time.perf_counter()
    for step in range(1, steps + 1):
        x, y, w = as_examples(train_inputs[rng.integers(0, len(train_inputs), size=batch)])
        loss, grad = masked_cross_entropy(model.forward(x, training=True), y, w)
        model.backward(grad)
        optimizer.step(params)
        if step % log_every == 0 or step == steps:
            acc = exact_accuracy(model, test_inputs)
            history["step"].append(step)
            history["loss"].append(loss)
            history["test_exact"].append(acc)
            print(f"step {step:5d}  loss {loss:.4f}  held-out exact-sequence accuracy {acc:.4f}  "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
    history["seconds"] = time.perf_counter() - start
    history["train_exact"] = exact_accuracy(model, train_inputs)
    history["n_test"] = len(test_inputs)
    varied = [row for row in test_inputs if len(set(row)) == DIGITS and np.any(np.diff(row) < 0)]
    history["example"] = varied[0]  # a held-out input with all three digits, not already sorted
    return model, history


def head_entropies(model: Any, inputs: np.ndarray) -> list[Any]:
    """Normalized attention entropy of every head of every block on these inputs (diagnostics.attention)."""
    from glassnet.diagnostics.attention import head_entropy

    x, _, _ = as_examples(inputs)
    model.predict(x, batch_size=len(x))
    blocks = [layer for layer in model.layers if isinstance(layer, L.TransformerDecoderBlock)]
    return [head_entropy(b.self_attention.last_attention_scores, attention_mask=np.tri(T, dtype=bool))
            for b in blocks]


def plot_attention(model: Any, example: np.ndarray, path: Path) -> None:
    """Each head's attention probabilities (query position down, key position across) for one example."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    joined = np.concatenate([example, np.sort(example)])[:-1]
    model.predict(joined[None])
    blocks = [layer for layer in model.layers if isinstance(layer, L.TransformerDecoderBlock)]
    heads = blocks[0].num_heads
    fig, axes = plt.subplots(len(blocks), heads, figsize=(3.1 * heads, 3.0 * len(blocks)), squeeze=False)
    labels = [str(t) for t in joined]
    for i, block in enumerate(blocks):
        scores = block.self_attention.last_attention_scores[0]  # (heads, T, T)
        for h in range(heads):
            ax = axes[i, h]
            ax.imshow(scores[h], cmap="viridis", vmin=0.0, vmax=1.0)
            ax.set_xticks(range(T), labels, fontsize=7)
            ax.set_yticks(range(T), labels, fontsize=7)
            ax.set_title(f"block {i + 1}, head {h + 1}", fontsize=9)
    fig.suptitle(f"sort {' '.join(map(str, example))} -> {' '.join(map(str, np.sort(example)))}: attention "
                 "(row = query position, column = key)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", type=Path, default=Path(__file__).resolve().parents[1] / "docs" /
                        "sort_gpt_attention.png")
    args = parser.parse_args()
    model, history = train(args.steps, args.batch, args.lr, args.seed)
    print(f"held-out exact-sequence accuracy {history['test_exact'][-1]:.4f} on {history['n_test']} sequences; "
          f"training inputs {history['train_exact']:.4f}; {history['seconds']:.0f} s for {args.steps} steps")
    from glassnet.diagnostics.attention import collapsed_heads

    for i, entropy in enumerate(head_entropies(model, make_split(args.seed)[1]), start=1):
        collapsed = collapsed_heads(entropy)
        print(f"block {i}: normalized attention entropy per head {np.round(entropy, 3).tolist()}"
              + (f"; collapsed: {collapsed}" if collapsed else ""))
    plot_attention(model, history["example"], args.plot)  # a held-out input
    print(f"attention maps: {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

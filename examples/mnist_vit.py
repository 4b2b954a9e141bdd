"""A small Vision Transformer (Dosovitskiy et al., 2020) on MNIST (numbers reported in docs/transformer.md).

    OPENBLAS_NUM_THREADS=1 PYTHONPATH=src python examples/mnist_vit.py                 # the documented run
    OPENBLAS_NUM_THREADS=1 PYTHONPATH=src python examples/mnist_vit.py --limit 5000 --epochs 1  # a quick look
    ... --backup /tmp/vit-backup    # backs up every epoch: rerun the same command to resume a killed run

Model: ``PatchEmbedding(patch, width)`` cuts each 28 x 28 image into (28 / patch)^2 patch tokens, a learned
``PositionalEmbedding`` is added, then ``depth`` pre-LN ``TransformerEncoderBlock`` (self-attention over
all patches, no mask; feed-forward 2 x width, GELU tanh form), a final LayerNorm, the mean over tokens
(``GlobalAveragePooling1D``, in place of ViT's class token) and ``Dense(10, softmax)``.
Adam with linear warmup then cosine decay, global gradient clipping at 1.0, batch 128, pixels in [0, 1];
the last 5,000 training images are held out for validation, the test set is scored once at the end.

Every epoch an ``AttentionMonitor`` callback records each head's normalized attention entropy on a fixed
batch of 256 validation images (``diagnostics.attention.head_entropy``); the run ends by printing them, the
collapsed heads, and drawing the attention maps of one test image to docs/mnist_vit_attention.png.

Reads ../shared/data/mnist.npz (keys x_train, y_train, x_test, y_test; or --data FILE).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

import glassnet as gn

L = gn.layers
ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "mnist.npz"


def load(path: Path, limit: int | None = None) -> tuple[np.ndarray, ...]:
    """(x_train, y_train, x_test, y_test): images (n, 28, 28, 1) float32 in [0, 1], labels int64."""
    with np.load(path) as d:
        xs = [d[k][..., None].astype(np.float32) * np.float32(1 / 255) for k in ("x_train", "x_test")]
        ys = [d[k].astype(np.int64) for k in ("y_train", "y_test")]
    if limit is not None:
        xs[0], ys[0] = xs[0][:limit], ys[0][:limit]
    return xs[0], ys[0], xs[1], ys[1]


def build(patch: int = 7, width: int = 96, depth: int = 3, heads: int = 4, dropout: float = 0.0) -> Any:
    """The ViT described in the module docstring, as a Functional model."""
    tokens = (28 // patch) ** 2
    x_in = L.Input(shape=(28, 28, 1))
    h = L.PatchEmbedding(patch, width, name="patches")(x_in)
    h = L.PositionalEmbedding(tokens, width, name="positions")(h)
    for i in range(depth):
        h = L.TransformerEncoderBlock(
            heads,
            width // heads,
            2 * width,
            dropout=dropout,
            name=f"encoder_{i + 1}",
            activation={"class_name": "GELU", "config": {"approximate": "tanh"}},
        )(h)
    h = L.LayerNormalization(epsilon=1e-5, name="final_norm")(h)
    h = L.GlobalAveragePooling1D(name="token_mean")(h)
    return gn.Model(inputs=x_in, outputs=L.Dense(10, activation="softmax", name="classes")(h))


def plot_attention(model: Any, image: np.ndarray, label: int, path: Path) -> None:
    """Each head's attention map for one image, plus where the query patch in the image centre looks."""
    from glassnet.app.attention_report import draw_attention_maps
    from glassnet.diagnostics.attention_monitor import attention_layers

    model.predict(image[None])
    maps = {name: layer.last_attention_scores[0] for name, layer in attention_layers(model)}
    draw_attention_maps(
        maps,
        path,
        title=f"MNIST test image (label {label}): attention per head (row = query patch, column = key patch)",
    )
    plot_patch_attention(maps, image, label, path.with_name(path.stem + "_patches.png"))


def plot_patch_attention(maps: dict[str, np.ndarray], image: np.ndarray, label: int, path: Path) -> None:
    """Per layer and head, the attention each patch receives (mean over the queries), over the image."""
    from matplotlib.figure import Figure

    side = int(round(np.sqrt(next(iter(maps.values())).shape[-1])))
    heads = max(m.shape[0] for m in maps.values())
    fig = Figure(figsize=(1.9 * (heads + 1), 1.9 * len(maps) + 0.4), layout="constrained")
    axes = fig.subplots(len(maps), heads + 1, squeeze=False)
    for i, (name, m) in enumerate(maps.items()):
        axes[i, 0].imshow(image[..., 0], cmap="gray_r")
        axes[i, 0].set_title(f"label {label}", fontsize=7)
        for h in range(m.shape[0]):
            received = m[h].mean(axis=0).reshape(side, side)  # column means: how much each patch is looked at
            axes[i, h + 1].imshow(image[..., 0], cmap="gray_r")
            axes[i, h + 1].imshow(np.kron(received, np.ones((28 // side, 28 // side))), cmap="inferno", alpha=0.6)
            axes[i, h + 1].set_title(f"{name.split('/')[0]}, head {h + 1}", fontsize=7)
        for ax in axes[i]:
            ax.set_axis_off()
    fig.suptitle("attention received by each patch (mean over the query patches; colours scaled per panel)", fontsize=9)
    fig.savefig(path, dpi=100)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--limit", type=int, default=None, help="train on the first N training images")
    parser.add_argument("--patch", type=int, default=7)
    parser.add_argument("--width", type=int, default=96)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "mnist_vit_attention.png")
    parser.add_argument("--out", type=Path, default=None, help="write the history and test scores as JSON here")
    parser.add_argument(
        "--backup",
        type=Path,
        default=None,
        help="back up every epoch here (BackupAndRestore); the same command resumes a killed run",
    )
    args = parser.parse_args()
    from glassnet.diagnostics.attention import collapsed_heads
    from glassnet.diagnostics.attention_diagnosis import ONE_KEY, UNIFORM
    from glassnet.diagnostics.attention_monitor import AttentionMonitor

    x_train, y_train, x_test, y_test = load(args.data, args.limit)
    n_val = max(len(x_train) // 12, 1)  # 5,000 of 60,000 held out for validation; the test set only at the end
    x_train, y_train, x_val, y_val = x_train[:-n_val], y_train[:-n_val], x_train[-n_val:], y_train[-n_val:]
    gn.set_seed(args.seed)
    net = build(args.patch, args.width, args.depth, args.heads)
    steps = args.epochs * -(-len(x_train) // args.batch)
    schedule = gn.schedules.CosineDecay(
        args.lr, decay_steps=max(steps - steps // 20, 1), alpha=0.02, warmup_steps=steps // 20
    )
    net.compile(
        optimizer=gn.optimizers.Adam(learning_rate=schedule, global_clipnorm=1.0),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    net.summary()
    entropy = AttentionMonitor(x_val, size=256)  # the same 256 validation images every epoch
    backup = [gn.callbacks.BackupAndRestore(args.backup)] if args.backup is not None else []
    start = time.perf_counter()
    history = net.fit(
        x_train,
        y_train,
        epochs=args.epochs,
        batch_size=args.batch,
        verbose=1,
        seed=args.seed,
        validation_data=(x_val, y_val),
        callbacks=[entropy, *backup],
    )
    seconds = time.perf_counter() - start
    scores = net.evaluate(x_test, y_test, batch_size=1000)
    print(
        f"mnist-vit: test loss {scores['loss']:.4f}, test accuracy {scores['accuracy']:.4f} "
        f"({args.epochs} epochs on {len(x_train)} images, {seconds:.0f} s training, "
        f"{net.count_params()} parameters)"
    )
    for name, values in entropy.record.entropy.items():
        last = np.asarray(values[-1])
        flagged = collapsed_heads(last, low=ONE_KEY, high=UNIFORM)  # diagnose's thresholds
        print(
            f"{name}: normalized attention entropy per head {np.round(last, 3).tolist()}"
            + (f"; collapsed: {flagged}" if flagged else "")
        )
    plot_attention(net, x_test[0], int(y_test[0]), args.plot)
    print(f"attention maps: {args.plot}")
    if args.out is not None:
        record = {
            "args": {k: str(v) for k, v in vars(args).items()},
            "train_seconds": seconds,
            "params": net.count_params(),
            "test": scores,
            "history": history.history,
            "head_entropy": {k: np.asarray(v).tolist() for k, v in entropy.record.entropy.items()},
        }
        args.out.write_text(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

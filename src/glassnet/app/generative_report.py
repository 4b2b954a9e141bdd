"""The "Generative model" report section of an Autoencoder, VAE or GAN run (``glassnet train``).

Registered with ``run_report.register_section``; it shows, as fits the model and the data:

    autoencoder, VAE   test inputs above their reconstructions
    VAE                the 2-D latent space (z_mean of the test set) coloured by label, and decoded
                       latent points on a grid over [-2, 2]^2 (for a 2-D latent space); samples decoder(z)
    GAN                d_loss and g_loss per epoch, the discriminator's accuracy on real and fake
                       samples, sample grids per epoch from one fixed z (``SampleGrids``), for 2-D data
                       the density of 10,000 samples over the real points, and the diagnosis
                       (``glassnet.diagnostics.gan``: mode collapse, a discriminator that wins)

Images are drawn when the samples have an image shape (h, w, c), (h, w) or h*h features; 2-D samples
as scatter plots.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

import numpy as np

from .._typing import Array
from ..callbacks import Callback
from ..diagnostics.gan import class_shares, diagnose_gan, sample_diversity
from . import plotting
from .report import image_tag
from .run_report import register_section

GRID_SAMPLES = 16
MAX_GRIDS = 6
REFERENCE_ROWS = 500


class SampleGrids(Callback):
    """After every epoch: ``GRID_SAMPLES`` samples of a VAE or GAN from one fixed z, and (a GAN) the sample
    diversity of 500 samples against 500 real rows (``glassnet.diagnostics.gan.sample_diversity``). Both
    are kept in the run's backup (``get_state``), so a run resumed with ``--resume`` reports every epoch."""

    def __init__(self, seed: int = 0, real: Array | None = None) -> None:
        super().__init__()
        self.seed = seed
        self.real = None if real is None else real[:REFERENCE_ROWS]
        self.grids: list[tuple[int, Array]] = []
        self.diversity: list[float] = []

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        sample = getattr(self.model, "sample", None)
        if sample is None:
            return
        self.grids.append((epoch + 1, np.asarray(sample(GRID_SAMPLES, seed=self.seed))))
        if self.real is not None and hasattr(self.model, "discriminator"):
            self.diversity.append(sample_diversity(sample(REFERENCE_ROWS, seed=self.seed + 1), self.real))

    def get_state(self) -> dict[str, Any]:
        """The grids and diversities so far: part of every epoch's backup, so a resumed run keeps them."""
        return {"epochs": [epoch for epoch, _ in self.grids], "grids": [grid for _, grid in self.grids],
                "diversity": list(self.diversity)}

    def set_state(self, state: dict[str, Any]) -> None:
        self.grids = [(int(epoch), np.asarray(grid)) for epoch, grid in zip(state["epochs"], state["grids"])]
        self.diversity = [float(d) for d in state["diversity"]]


def image_shape(shape: tuple[int, ...]) -> tuple[int, int] | None:
    """(h, w) when samples of ``shape`` are (gray) images: (h, w), (h, w, 1) or h*h features (h >= 4)."""
    if len(shape) == 3 and shape[-1] == 1 or len(shape) == 2:
        return int(shape[0]), int(shape[1])
    if len(shape) == 1 and shape[0] >= 16 and math.isqrt(shape[0]) ** 2 == shape[0]:
        return math.isqrt(shape[0]), math.isqrt(shape[0])
    return None


def _image_rows(fig: Any, rows: list[Array], hw: tuple[int, int], titles: list[str] | None = None) -> None:
    n_cols = max(len(r) for r in rows)
    axes = fig.subplots(len(rows), n_cols, squeeze=False)
    for i, row in enumerate(rows):
        for j in range(n_cols):
            ax = axes[i][j]
            ax.set_axis_off()
            if j < len(row):
                ax.imshow(np.asarray(row[j], dtype=np.float64).reshape(hw), cmap="gray_r", vmin=0.0, vmax=1.0)
        if titles:
            axes[i][0].set_title(titles[i], fontsize=8, loc="left")


def _grid(samples: Array, hw: tuple[int, int], columns: int = 8) -> Any:
    rows = [samples[i : i + columns] for i in range(0, len(samples), columns)]
    fig = plotting._figure(columns * 0.9, len(rows) * 0.9)
    _image_rows(fig, rows, hw)
    return fig


def _scale_to_unit(x: Array) -> Array:
    """Samples for display in [0, 1] (a tanh generator's [-1, 1] is mapped there)."""
    x = np.asarray(x, dtype=np.float64)
    return (x + 1.0) / 2.0 if x.min() < -0.05 else x


class _Figures:
    """Saves figures under ``run_dir/plots`` and collects their HTML tags."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.tags: list[str] = []

    def add(self, caption: str, name: str, fig: Any) -> None:
        path = self.run_dir / "plots" / name
        plotting.save_figure(fig, path)
        self.tags.append(image_tag(caption, path, self.run_dir))


def _reconstructions(figures: _Figures, model: Any, x: Array, hw: tuple[int, int] | None) -> None:
    shown = x[:10]
    rebuilt = model.reconstruct(shown)
    if hw is not None:
        fig = plotting._figure(9.0, 2.2)
        _image_rows(fig, [shown, rebuilt], hw, ["inputs", "reconstructions"])
        figures.add("test inputs (top) and their reconstructions (bottom)", "reconstructions.png", fig)
    elif x.ndim == 2 and x.shape[1] == 2:
        fig = plotting._figure()
        ax = fig.add_subplot()
        ax.scatter(x[:500, 0], x[:500, 1], s=6, label="inputs")
        ax.scatter(*model.reconstruct(x[:500]).T, s=6, label="reconstructions")
        ax.legend()
        figures.add("test inputs and their reconstructions", "reconstructions.png", fig)


def _latent_space(figures: _Figures, model: Any, x: Array, labels: Array | None, hw: tuple[int, int] | None) -> None:
    z = np.asarray(model.encode(x[:2000]))
    if z.shape[1] != 2:
        return
    fig = plotting._figure(5.5, 4.5)
    ax = fig.add_subplot()
    colour = labels[: len(z)] if labels is not None and np.issubdtype(np.asarray(labels).dtype, np.integer) else None
    points = ax.scatter(z[:, 0], z[:, 1], c=colour, cmap="tab10", s=4)
    if colour is not None:
        fig.colorbar(points, ax=ax, label="label")
    ax.set_xlabel("z_mean[0]")
    ax.set_ylabel("z_mean[1]")
    figures.add("latent space: z_mean of test samples, coloured by label", "latent_space.png", fig)
    if hw is not None:
        n = 12
        axis = np.linspace(-2.0, 2.0, n)
        grid = np.stack(np.meshgrid(axis, axis[::-1]), axis=-1).reshape(-1, 2).astype(model.dtype)
        decoded = model.decode(grid)
        figures.add("decoded latent points on a grid over [-2, 2]^2 (z_0 across, z_1 up)", "latent_grid.png",
                    _grid(decoded, hw, columns=n))


def _gan_curves(figures: _Figures, history: dict[str, list[float]]) -> None:
    epochs = np.arange(1, len(history.get("d_loss", [])) + 1)
    if not len(epochs):
        return
    fig = plotting._figure(9.0, 3.5)
    left, right = fig.subplots(1, 2)
    for key in ("d_loss", "g_loss"):
        left.plot(epochs, history[key], label=key)
    left.axhline(math.log(2.0), color="gray", lw=0.8, ls=":", label="log 2 (D = 1/2 everywhere)")
    left.set_xlabel("epoch")
    left.legend()
    for key in ("d_accuracy_real", "d_accuracy_fake"):
        right.plot(epochs, history[key], label=key)
    right.set_ylim(-0.02, 1.02)
    right.set_xlabel("epoch")
    right.legend()
    figures.add("GAN losses and the discriminator's accuracy on real and generated samples per epoch",
                "gan_losses.png", fig)


def _sample_grids(figures: _Figures, grids: list[tuple[int, Array]], hw: tuple[int, int] | None,
                  real: Array) -> None:
    if not grids:
        return
    picks = sorted({grids[int(round(i))][0] for i in np.linspace(0, len(grids) - 1, min(MAX_GRIDS, len(grids)))})
    chosen = [(epoch, samples) for epoch, samples in grids if epoch in picks]
    if hw is not None:
        fig = plotting._figure(GRID_SAMPLES * 0.55, len(chosen) * 0.7)
        _image_rows(fig, [_scale_to_unit(s) for _, s in chosen], hw, [f"epoch {e}" for e, _ in chosen])
        figures.add("samples from one fixed z after each shown epoch", "sample_grids.png", fig)
    elif real.ndim == 2 and real.shape[1] == 2:
        fig = plotting._figure(2.4 * len(chosen), 2.6)
        axes = fig.subplots(1, len(chosen), squeeze=False)[0]
        for ax, (epoch, samples) in zip(axes, chosen):
            ax.scatter(real[:500, 0], real[:500, 1], s=2, c="lightgray")
            ax.scatter(samples[:, 0], samples[:, 1], s=8, c="C3")
            ax.set_title(f"epoch {epoch}", fontsize=8)
        figures.add("samples from one fixed z (red) over real points (gray), per epoch", "sample_grids.png", fig)


def _samples(figures: _Figures, model: Any, hw: tuple[int, int] | None, real: Array, seed: int) -> Array:
    samples = np.asarray(model.sample(10_000 if real.ndim == 2 and real.shape[1] == 2 else 64, seed=seed))
    if hw is not None:
        figures.add("64 samples", "samples.png", _grid(_scale_to_unit(samples[:64]), hw))
    elif samples.ndim == 2 and samples.shape[1] == 2:
        fig = plotting._figure(5.0, 4.5)
        ax = fig.add_subplot()
        low, high = real.min(axis=0) - 0.5, real.max(axis=0) + 0.5
        counts, xe, ye = np.histogram2d(samples[:, 0], samples[:, 1], bins=120,
                                        range=[(low[0], high[0]), (low[1], high[1])])
        ax.imshow(np.log1p(counts.T), origin="lower", extent=(xe[0], xe[-1], ye[0], ye[-1]), cmap="magma_r",
                  aspect="auto")
        ax.scatter(real[:300, 0], real[:300, 1], s=12, facecolors="none", edgecolors="C0", lw=0.5, label="real")
        ax.legend(loc="upper right")
        figures.add("density of 10,000 samples (log counts) with real points (circles)", "sample_density.png", fig)
    return samples


def _diagnosis_html(run: Any, history: dict[str, list[float]], grids: SampleGrids | None) -> str:
    data, model = run.data, run.model
    samples = np.asarray(model.sample(2000, seed=int(run.config["training"]["seed"]) + 7))
    judge = nearest_class_mean(data.x_train, data.y_train) if _judge_by_class_means(data) else None
    findings = diagnose_gan(samples, real=data.x_train, classify=judge, n_classes=data.n_classes, history=history,
                            diversity_per_epoch=grids.diversity if grids else None)
    diversity = sample_diversity(samples, data.x_train)
    lines = [f"<p>Sample diversity (mean pairwise distance of 2,000 samples over the real data's): "
             f"<b>{diversity:.3f}</b> (1: the data's spread; a collapsed generator approaches 0).</p>"]
    if judge is not None:
        shares = class_shares(samples, judge, int(data.n_classes))
        lines.append("<p>Share of the samples per class, judged by the nearest class mean of the training data: "
                     + ", ".join(f"{c}: {share:.1%}" for c, share in enumerate(shares)) + "</p>")
    if not findings:
        lines.append("<p>Diagnosis: no mode collapse and no overpowering discriminator found.</p>")
    for finding in findings:
        lines.append(f"<p class='warning'><b>{html.escape(finding.name)}</b> ({html.escape(finding.layer)}): "
                     f"{html.escape(finding.evidence)}. Try: {html.escape('; '.join(finding.remedies))}.</p>")
    return "\n".join(lines)


def _judge_by_class_means(data: Any) -> bool:
    """Labelled data of at most 3 features (the ring's modes): there the nearest class mean is a fair judge."""
    return data.task == "classification" and bool(data.n_classes) and int(np.prod(data.input_shape)) <= 3


def nearest_class_mean(x: Array, y: Array) -> Any:
    """A classifier: the label of the nearest class mean (mu_c = mean of the rows of class c)."""
    classes = np.unique(y)
    means = np.stack([x[y == c].reshape(int(np.sum(y == c)), -1).mean(axis=0) for c in classes])

    def classify(samples: Array) -> Array:
        flat = np.asarray(samples).reshape(len(samples), -1)
        distances = np.sum((flat[:, None, :] - means[None, :, :]) ** 2, axis=2)
        return classes[np.argmin(distances, axis=1)]

    return classify


def generative_section(run: Any, run_dir: Path, history: dict[str, list[float]],
                       metrics: dict[str, Any]) -> tuple[str, str] | None:
    """("Generative model", html) for an Autoencoder, VAE or GAN run; None for the others."""
    kind = getattr(run, "kind", "sequential")
    if kind == "sequential":
        return None
    data, model = run.data, run.model
    x = data.x_test if len(data.x_test) else data.x_train
    labels = data.y_test if len(data.x_test) else data.y_train
    hw = image_shape(data.input_shape)
    grids = next((cb for cb in getattr(run, "callbacks", []) if isinstance(cb, SampleGrids)), None)
    seed = int(run.config["training"]["seed"])
    text = _diagnosis_html(run, history, grids) if kind == "gan" else ""
    if not plotting.available():
        return "Generative model", text + "<p>Install matplotlib for the pictures.</p>"
    figures = _Figures(Path(run_dir))
    if kind in ("autoencoder", "vae"):
        _reconstructions(figures, model, x, hw)
    if kind == "vae":
        _latent_space(figures, model, x, labels, hw)
    if kind == "gan":
        _gan_curves(figures, history)
    if kind in ("vae", "gan"):
        if grids is not None:
            _sample_grids(figures, grids.grids, hw, data.x_train)
        _samples(figures, model, hw, data.x_train, seed)
    return "Generative model", text + "\n".join(figures.tags)


register_section(generative_section)

__all__ = ["SampleGrids", "generative_section", "image_shape"]

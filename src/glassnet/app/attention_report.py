"""The run report's "Attention" section, for models trained with an ``AttentionMonitor``.

    plot_attention_maps(maps)      one panel per (layer, head): the attention probabilities of one
                                   validation input, query position down, key position across
    plot_head_entropy(record)      per layer, each head's normalized entropy per epoch (0 = one key,
                                   1 = uniform), with the thresholds ``diagnose`` uses
    attention_section(run, ...)    registered with ``run_report.register_section``: both pictures, a
                                   table of the last epoch's entropies and the collapsed-head findings

``glassnet train`` adds the monitor itself when the model has attention layers (``runs.py``).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np

from .._typing import Array
from ..diagnostics.attention_diagnosis import ONE_KEY, UNIFORM, attention_findings
from ..errors import MissingDependencyError, require
from .run_report import register_section


def plot_attention_maps(maps: dict[str, Array], title: str = "") -> Any:
    """A figure: one row per layer, one panel per head, of each (heads, T_q, T_k) map in ``maps``."""
    require("matplotlib", "plot")
    from matplotlib.figure import Figure

    rows = len(maps)
    cols = max(m.shape[0] for m in maps.values())
    fig = Figure(figsize=(2.3 * cols + 0.6, 2.3 * rows + 0.5), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    image = None
    top = max(float(m.max()) for m in maps.values()) or 1.0  # one colour scale for every panel
    for i, (name, heads) in enumerate(maps.items()):
        for h in range(cols):
            ax = axes[i, h]
            ax.set_xticks([])
            ax.set_yticks([])
            if h >= heads.shape[0]:
                ax.set_axis_off()
                continue
            image = ax.imshow(heads[h], cmap="viridis", vmin=0.0, vmax=top, interpolation="nearest")
            ax.set_title(f"{name}, head {h + 1}", fontsize=7)
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.6, label="attention probability")
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def draw_attention_maps(maps: dict[str, Array], path: Path, title: str = "") -> None:
    """Save ``plot_attention_maps(maps, title)`` as a PNG at ``path``."""
    from .plotting import save_figure

    save_figure(plot_attention_maps(maps, title), path)


def plot_head_entropy(record: Any) -> Any:
    """A figure: per attention layer, each head's normalized entropy over the monitored epochs."""
    require("matplotlib", "plot")
    from matplotlib.figure import Figure

    names = [n for n in record.layers if record.entropy.get(n)]
    cols = min(len(names), 4)
    rows = -(-len(names) // cols)
    fig = Figure(figsize=(3.4 * cols, 2.8 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    epochs = np.asarray(record.epochs) + 1
    for ax, name in zip(axes, names, strict=False):
        values = np.asarray(record.entropy[name])  # (epochs, heads)
        for h in range(values.shape[1]):
            ax.plot(epochs[: len(values)], values[:, h], "o-", markersize=3, label=f"head {h + 1}")
        for level in (ONE_KEY, UNIFORM):
            ax.axhline(level, color="grey", linestyle=":", linewidth=0.8)
        ax.set(title=name, xlabel="epoch", ylabel="normalized entropy", ylim=(-0.03, 1.03))
        ax.title.set_fontsize(8)
        ax.xaxis.get_major_locator().set_params(integer=True)
    for ax in axes[len(names) :]:
        ax.set_axis_off()
    axes[0].legend(fontsize=6)
    fig.suptitle("Attention entropy per head on the validation batch (dotted: collapse thresholds)", fontsize=9)
    return fig


def _entropy_table(record: Any) -> str:
    last = record.last()
    heads = max((len(v) for v in last.values()), default=0)
    head = "<tr><th>layer</th>" + "".join(f"<th>head {h + 1}</th>" for h in range(heads)) + "</tr>"
    body = "".join(
        f"<tr><td><code>{html.escape(name)}</code></td>"
        + "".join(f'<td class="num">{v:.3f}</td>' for v in values)
        + "</tr>"
        for name, values in last.items()
    )
    return f"<table>{head}{body}</table>"


def attention_html(record: Any, plots_dir: Path | None = None) -> str:
    """Findings, the last epoch's entropy table and both pictures (saved under ``plots_dir`` if given)."""
    from .diagnosis_plots import _figure_html

    findings = attention_findings(record)
    epoch = record.epochs[-1] + 1 if record.epochs else 0
    parts = [
        f"<p>Normalized attention entropy of each head on a fixed batch of {record.batch_size} validation "
        f"inputs (0 = each query looks at one key, 1 = uniform over the keys it may see), epoch {epoch}:</p>",
        _entropy_table(record),
    ]
    if findings:
        items = "".join(
            f"<li><strong>{html.escape(f.name)}</strong> in <code>{html.escape(f.layer)}</code>: "
            f"{html.escape(f.evidence)}.<br>Try: {html.escape('; '.join(f.remedies))}.</li>"
            for f in findings
        )
        parts.append(f'<ul class="findings">{items}</ul>')
    else:
        parts.append(f"<p>No collapsed head (every entropy between {ONE_KEY} and {UNIFORM}).</p>")
    try:
        if record.maps:
            fig = plot_attention_maps(record.maps, "attention of one validation input (row = query, column = key)")
            parts.append(_figure_html(fig, "attention maps per head", plots_dir, "attention_maps.png"))
        if record.epochs:
            parts.append(
                _figure_html(
                    plot_head_entropy(record), "attention entropy per head", plots_dir, "attention_entropy.png"
                )
            )
    except MissingDependencyError as exc:
        parts.append(f"<p>{html.escape(str(exc))}</p>")
    return "\n".join(parts)


@register_section
def attention_section(run: Any, run_dir: Path, history: Any, metrics: Any) -> tuple[str, str] | None:
    """``("Attention", html)`` for a run whose model has an ``AttentionMonitor`` record, else None."""
    record = getattr(getattr(run.model, "history", None), "attention", None)
    if record is None or not record.layers:
        return None
    return "Attention", attention_html(record, plots_dir=Path(run_dir) / "plots")


__all__ = ["attention_html", "attention_section", "draw_attention_maps", "plot_attention_maps", "plot_head_entropy"]

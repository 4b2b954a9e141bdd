"""``report.html``: one self-contained page per run (images inlined as base64 PNG, no external files).

Sections, in order: summary table, model, curves and other pictures, final metrics, any extra
sections (``(title, html)`` pairs, e.g. a diagnosis added by another command), and the config.
"""

from __future__ import annotations

import base64
import html
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._files import atomic_write
from .._format import format_number
from .plotting import PLOT_HINT

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1260px; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: .5em 0; } td, th { border: 1px solid #ccc; padding: .3em .7em; }
th { background: #f4f4f4; text-align: left; } td.num { text-align: right; }
pre { background: #f7f7f7; padding: .8em; overflow-x: auto; border: 1px solid #e4e4e4; }
figure { display: inline-block; margin: .5em; vertical-align: top; } img { max-width: 100%; }
figcaption { text-align: center; color: #555; font-size: .9em; }
.notice { background: #fff6d6; padding: .6em; }
.warning { background: #fde2e1; border: 1px solid #e0a0a0; padding: .6em; }
"""


@dataclass
class Report:
    """What a run report shows. ``images`` are (caption, PNG path); ``sections`` are (title, raw html)."""

    title: str
    summary: dict[str, Any]
    metrics: dict[str, dict[str, float] | None]
    config_text: str
    model_text: str = ""
    images: list[tuple[str, Path]] = field(default_factory=list)
    sections: list[tuple[str, str]] = field(default_factory=list)
    notice: str = ""
    warning: str = ""


def format_seconds(seconds: float) -> str:
    """``35 ms`` below a second, ``2.41 s`` below ten, ``83.2 s`` above."""
    if seconds < 1.0:
        return f"{seconds * 1000.0:.0f} ms"
    return f"{seconds:.2f} s" if seconds < 10.0 else f"{seconds:.1f} s"


def plural(count: int, noun: str) -> str:
    """``1 layer``, ``2 layers``."""
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f'<td class="num">{format_number(value)}</td>'
    if isinstance(value, int) and not isinstance(value, bool):
        return f'<td class="num">{value:,}</td>'
    return f"<td>{html.escape(str(value))}</td>"


def key_value_table(rows: dict[str, Any]) -> str:
    """A two-column HTML table, values escaped."""
    body = "".join(f"<tr><th>{html.escape(str(k))}</th>{_cell(v)}</tr>" for k, v in rows.items())
    return f"<table>{body}</table>"


def metrics_table(metrics: dict[str, dict[str, float] | None]) -> str:
    """Rows = metric names, columns = splits (train, validation, test)."""
    splits = [s for s, values in metrics.items() if values]
    names: list[str] = []
    for s in splits:
        names += [n for n in metrics[s] or {} if n not in names]
    head = "<tr><th>metric</th>" + "".join(f"<th>{html.escape(s)}</th>" for s in splits) + "</tr>"
    rows = "".join(
        f"<tr><th>{html.escape(n)}</th>" + "".join(_cell((metrics[s] or {}).get(n, "")) for s in splits) + "</tr>"
        for n in names
    )
    return f"<table>{head}{rows}</table>"


def image_tag(caption: str, path: Path, relative_to: Path | None = None) -> str:
    """A figure with the PNG inlined; ``data-file`` keeps the file name the picture was saved under."""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    name = Path(path).relative_to(relative_to).as_posix() if relative_to else Path(path).name
    return (
        f'<figure><img alt="{html.escape(caption)}" data-file="{html.escape(name)}" '
        f'src="data:image/png;base64,{data}"><figcaption>{html.escape(caption)}</figcaption></figure>'
    )


def render(report: Report, base: Path | None = None) -> str:
    """The HTML text of ``report``; image ``data-file`` names are relative to ``base``."""
    parts = [f"<h1>{html.escape(report.title)}</h1>"]
    if report.warning:
        parts.append(f'<p class="warning">{html.escape(report.warning)}</p>')
    parts += ["<h2>Summary</h2>", key_value_table(report.summary)]
    if report.model_text:
        parts += ["<h2>Model</h2>", f"<pre>{html.escape(report.model_text)}</pre>"]
    parts.append("<h2>Curves and pictures</h2>")
    if report.notice:
        parts.append(f'<p class="notice">{html.escape(report.notice)}</p>')
    parts += [image_tag(caption, path, base) for caption, path in report.images]
    parts += ["<h2>Final metrics</h2>", metrics_table(report.metrics)]
    for title, body in report.sections:
        parts += [f"<h2>{html.escape(title)}</h2>", body]
    parts += ["<h2>Config</h2>", f"<pre>{html.escape(report.config_text)}</pre>"]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(report.title)}</title><style>{_STYLE}</style></head><body>\n"
        + "\n".join(parts)
        + "\n</body></html>\n"
    )


def write_report(path: str | os.PathLike[str], report: Report, extra_sections: Sequence[tuple[str, str]] = ()) -> None:
    """Render ``report`` (plus ``extra_sections``) and write it atomically to ``path``."""
    if extra_sections:
        report = Report(**{**report.__dict__, "sections": [*report.sections, *extra_sections]})
    text = render(report, Path(path).parent)
    atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))


def no_plots_notice() -> str:
    return f"matplotlib is not installed, so this report has no pictures; run {PLOT_HINT} and train again."


__all__ = [
    "Report",
    "format_number",
    "format_seconds",
    "image_tag",
    "key_value_table",
    "metrics_table",
    "no_plots_notice",
    "plural",
    "render",
    "write_report",
]

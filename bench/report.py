"""Turn the raw measurements of ``bench.run`` into the markdown table (terminal and docs)."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

# glassnet / reference, ratios of medians (issue 7). "torch_best" is the faster PyTorch variant.
TARGETS: dict[str, dict[str, float]] = {
    "W1": {"torch_best": 0.75, "gemm": 2.0, "sklearn": 0.7},
    "W2": {"torch_best": 0.35, "gemm": 4.0, "sklearn": 0.4},
    "W3": {"torch_best": 0.65, "gemm": 1.2, "sklearn": 0.8},
    "W4": {"torch_best": 0.70, "gemm": 2.0},
    "W9": {"torch_best": 1.0},  # issue 14: one GPT training step no slower than PyTorch
    "W5:latency_s": {"torch_best": 0.8},
    "W5:batch_s": {"torch_best": 0.55},
    "W6": {"torch_best": 0.9, "gemm": 2.5},  # issue 12
    "W7:batch_s": {"torch_best": 1.0},
    "W8": {"torch_best": 1.0, "gemm": 2.0},  # issue 13
    "W8G": {"torch_best": 1.0, "gemm": 2.0},
}
RSS_TARGET = 0.5
QUIET_CORES = 0.25  # a measurement is "undisturbed" when other processes kept fewer cores busy than this
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _fmt_time(seconds: float) -> str:
    return f"{seconds * 1e6:.0f} us" if seconds < 1e-2 else f"{seconds:.3f} s"


def _series(runs: list[dict[str, Any]], metric: str) -> list[float]:
    return [r["metrics"][metric] for r in runs]


def _rows_for(key: str, entry: dict[str, Any]) -> tuple[list[str], list[str]]:
    runs: dict[str, list[dict[str, Any]]] = entry["runs"]
    metrics = [m for m in runs["glassnet"][0]["metrics"] if m.endswith("_s")]
    rows, verdicts = [], []
    rss = {impl: _median([r["peak_rss_mb"] for r in rs]) for impl, rs in runs.items()}
    train_rss = {impl: _median([r.get("train_peak_mb", 0.0) for r in rs]) for impl, rs in runs.items()}
    for metric in metrics:
        target_key = key if key in TARGETS else f"{key}:{metric}"
        med = {impl: _median(_series(rs, metric)) for impl, rs in runs.items()}
        torch_impls = [i for i in ("torch", "torch_fused") if i in med]
        best_torch = min(torch_impls, key=lambda i: med[i]) if torch_impls else None
        g = _series(runs["glassnet"], metric)
        for impl, rs in runs.items():
            s = _series(rs, metric)
            ratio = med["glassnet"] / med[impl]
            paired = _median([a / b for a, b in zip(g, s)])
            by_min = min(g) / min(s)
            quiet = [
                a / b
                for a, b, ra, rb in zip(g, s, runs["glassnet"], rs)
                if ra.get("other_cores", 0.0) < QUIET_CORES and rb.get("other_cores", 0.0) < QUIET_CORES
            ]
            quiet_text = f"{_median(quiet):.2f} ({len(quiet)})" if quiet else "-"
            ref = "torch_best" if impl == best_torch else impl
            target = TARGETS.get(target_key, {}).get(ref)
            verdict = "" if impl == "glassnet" or target is None else ("met" if ratio <= target else "**not met**")
            label = f"{impl} (best torch)" if impl == best_torch and len(torch_impls) > 1 else impl
            rows.append(
                f"| {key} {metric[:-2]} | {label} | {_fmt_time(med[impl])} | {_fmt_time(min(s))}–"
                f"{_fmt_time(max(s))} | {'' if impl == 'glassnet' else f'{ratio:.2f}'} | "
                f"{'' if impl == 'glassnet' else f'{paired:.2f}'} | "
                f"{'' if impl == 'glassnet' else f'{by_min:.2f}'} | "
                f"{'' if impl == 'glassnet' else quiet_text} | "
                f"{'' if target is None or impl == 'glassnet' else f'<= {target}'} {verdict} | "
                f"{rss[impl]:.0f} / {train_rss[impl]:.0f} |"
            )
            if verdict:
                quiet_verdict = ""
                if quiet:
                    ok = _median(quiet) <= (target or 0.0)
                    quiet_verdict = f"; undisturbed pairs: {_median(quiet):.2f} ({'met' if ok else 'not met'})"
                verdicts.append(
                    f"{key} {metric[:-2]} vs {ref}: {ratio:.2f} (target <= {target}) {verdict}" + quiet_verdict
                )
    for impl in ("torch", "torch_fused"):
        if impl in rss:
            ok = rss["glassnet"] <= RSS_TARGET * rss[impl]
            verdicts.append(
                f"{key} peak RSS vs {impl}: {rss['glassnet'] / rss[impl]:.2f} "
                f"(target <= {RSS_TARGET}) {'met' if ok else '**not met**'}; added while "
                f"training {train_rss['glassnet']:.0f} MB vs {train_rss[impl]:.0f} MB"
            )
    return rows, verdicts


def _environment(results: dict[str, Any]) -> list[str]:
    pools, torch_threads, sources, loads, others = set(), set(), set(), [], []
    for entry in results["workloads"].values():
        for impl, rs in entry["runs"].items():
            for r in rs:
                loads.append(r.get("loadavg", float("nan")))
                others.append(r.get("other_cores", float("nan")))
                sources.add(r.get("data", "-"))
                if "torch_threads" in r:
                    torch_threads.add(r["torch_threads"])
                for p in r["threadpools"]:
                    pools.add(
                        f"{impl.split('_')[0]}: {p['internal_api']} {p['version'] or ''} "
                        f"{p['architecture'] or ''} x{p['num_threads']} threads".replace("  ", " ")
                    )
    return [
        f"- machine: {results['machine']}",
        f"- command: `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE {results['command']}` "
        f"(unset here: {', '.join(results['env_unset']) or 'none'}); started {results['started']}",
        f"- repetitions: {results['reps']} per implementation, each a fresh process, interleaved"
        + (" (quick: shortened workloads)" if results["quick"] else ""),
        f"- thread pools: {'; '.join(sorted(pools))}; torch.get_num_threads() = {sorted(torch_threads) or '-'}",
        f"- data: {', '.join(sorted(s for s in sources if s != '-'))}",
        f"- other processes during the measurements (CPU cores they kept busy, from /proc/stat): median "
        f"{_median(others):.2f}, max {max(others):.2f}; 1-minute load average at the start of each: median "
        f"{_median(loads):.1f}, max {max(loads):.1f}"
        if loads
        else "",
    ]


def render(results: dict[str, Any]) -> str:
    lines = _environment(results) + [
        "",
        "| workload | implementation | median | min–max | glassnet / this (medians) | paired ratio (median) "
        "| glassnet / this (minima) | undisturbed pairs: median ratio (count) | target (on medians) "
        "| peak RSS MB (process / added by the run) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    verdicts, notes = [], []
    for key, entry in results["workloads"].items():
        note = f"{key}: optimizer {entry['optimizer']}" + (f"; {entry['note']}" if entry["note"] else "")
        notes.append(f"- {note}")
        if not entry["runs"]:
            continue
        rows, v = _rows_for(key, entry)
        lines += rows
        verdicts += v
    return "\n".join(lines + ["", *notes, "", "Targets:", *[f"- {v}" for v in verdicts]])


def write_docs(path: Path, table: str) -> None:
    """Replace the generated block of ``path`` (created with markers if missing), keeping the prose."""
    text = path.read_text() if path.exists() else f"# Performance\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text:
        text += f"\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1] if END in rest else ""
    path.write_text(f"{head}{BEGIN}\n{table}\n{END}{tail}")

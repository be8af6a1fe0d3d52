"""PNG plots of a run beside benchmarks.md: added latency, CPU per request, slow-stream memory and delay."""

from __future__ import annotations

from pathlib import Path

MODES = ("non_stream", "stream")


def plot(results: dict, streams: dict[int, dict[str, dict]], out: Path, stream_kib_target: float) -> bool:
    """Write latency.png, cpu.png and slow_streams.png (`streams`: slow-stream rows by count, then contestant);
    False without matplotlib (an optional dependency)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, mode in zip(axes, MODES):
        rows = {k: v for k, v in results["latency"][mode].items() if k != "direct"}
        _bars(ax, list(rows), {"p50": [r["added_p50_ms"] for r in rows.values()],
                               "p99": [r["added_p99_ms"] for r in rows.values()]})
        ax.set_title(f"added latency, {mode.replace('_', '-')} (ms)")
    _save(plt, fig, out / "latency.png")
    fig, ax = plt.subplots(figsize=(6, 4))
    load = results.get("load", {})
    names = list(next(iter(load.values()), {}))
    _bars(ax, names, {mode.replace("_", "-"): [load[mode][n]["cpu_ms_per_request"] for n in names]
                      for mode in MODES if mode in load})
    ax.set_title(f"worker CPU per request at concurrency {results['config'].get('load_concurrency')} (ms)")
    _save(plt, fig, out / "cpu.png")
    rows = {n: pair for n, pair in sorted(streams.items()) if "freeseek" in pair}
    ns = list(rows)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    proxies = [name for name in ("bare", "freeseek") if any(name in pair for pair in rows.values())]
    _bars(axes[0], [str(n) for n in ns], {name: [rows[n].get(name, {}).get("rss_per_stream_kb") or 0 for n in ns]
                                          for name in proxies})
    axes[0].axhline(stream_kib_target, color="red", linestyle="--", label=f"target {stream_kib_target} KiB")
    axes[0].legend()
    axes[0].set_title("worker RSS per open stream (KiB) vs streams")
    for name in ("direct", *proxies):
        have = [i for i, n in enumerate(ns) if name in rows[n]]  # stream counts as categories, as on the left
        axes[1].plot(have, [rows[ns[i]][name]["delay_p99_ms"] for i in have], marker="o", label=f"{name}, whole run")
        axes[1].plot(have, [rows[ns[i]][name]["open_delay_p99_ms"] for i in have], marker="x", linestyle="--",
                     label=f"{name}, all open")
    axes[1].set_xticks(range(len(ns)), [str(n) for n in ns])
    axes[1].set_yscale("log")
    axes[1].set_title("per-chunk delay p99 (ms) vs streams")
    axes[1].legend()
    _save(plt, fig, out / "slow_streams.png")
    return True


def _bars(ax, labels: list[str], series: dict[str, list[float]]) -> None:
    """Grouped bars: one group per label, one bar per series."""
    width = 0.8 / max(1, len(series))
    for i, (name, values) in enumerate(series.items()):
        ax.bar([x + (i - (len(series) - 1) / 2) * width for x in range(len(labels))], values, width, label=name)
    ax.set_xticks(range(len(labels)), labels)
    ax.legend()


def _save(plt, fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)

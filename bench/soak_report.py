"""The soak's part of benchmarks.md: its verdict line, its section and its plot (soak.png)."""

from __future__ import annotations

from pathlib import Path

from bench.report_format import met as _met
from bench.soak import GROWTH_LIMIT, PAUSE_LIMIT_MS, REDIS_CONNECTIONS_LIMIT


def verdict(soak: dict | None) -> list[str]:
    """One line against the soak's targets."""
    if not soak:
        return []
    v = soak["verdicts"]
    cpu = "" if v.get("gc_max_cpu_ms") is None else \
        f", {v['gc_max_cpu_ms']:.1f} ms of it on the CPU, generation {v['gc_max_generation']}"
    growth = "; ".join(f"worker {i + 1} RSS {g['rss_pct']:+.1f} %, other descriptors {g['fds_pct']:+.1f} %"
                       for i, g in enumerate(v["growth"].values()))
    if "redis_connections_most" in v:
        growth += (f"; at most {v['redis_connections_most']} connections to Redis in a worker (bound "
                   f"{REDIS_CONNECTIONS_LIMIT})")
    return [f"- soak ({soak['minutes']:g} min, 2 workers on Redis): after the {soak['warmup_minutes']:g}-minute "
            f"warm-up (medians of its first and of the last minute) {growth} (target < {GROWTH_LIMIT * 100:.0f} %: "
            f"{_met(v['flat'])}); {v['errors']} errors the "
            f"traffic did not ask for (target 0: {_met(v['no_errors'])}); longest collector pause "
            f"{v['gc_max_ms']:.1f} ms{cpu} (target <= {PAUSE_LIMIT_MS} ms: {_met(v['short_pauses'])})"]


def command(soak: dict) -> str:
    """The command line that ran this soak (options at their defaults left out)."""
    line = f"python -m bench --soak {soak['minutes']:g}"
    line += f" --soak-warmup {soak['warmup_minutes']:g}" if soak["warmup_minutes"] != 5 else ""
    return line + (f" --soak-clients {soak['clients']}" if soak["clients"] != 100 else "")


def section(soak: dict | None, out: Path) -> list[str]:
    """The soak's section: what ran, the outcomes by kind, the verdicts and the plot."""
    if not soak:
        return []
    total = sum(soak["requests"].values())
    restart = soak["redis_restart"]
    minutes = f"{soak['minutes']:g} minute{'' if soak['minutes'] == 1 else 's'}"
    lines = ["", f"## Soak ({minutes}, run {soak['started']})", "",
             f"`{command(soak)}`: `gunicorn wsgi:app` with two gevent workers on a "
             f"redis-server of its own, {soak['clients']} clients (gevent, one keep-alive connection each, 0.2-1 s "
             "between requests) sending a mix: API tokens on the bench upstream and web tokens on the fake web chat "
             "(account care off), OpenAI's chat completions and (a quarter) Anthropic's Messages, streamed and "
             "whole answers of about a second, a fifth of them with a tool "
             "(native on the API, emulated on the web chat), 5 % failing upstream calls (refused, reset, HTTP 5xx, "
             "an error in the answer, by token) and 5 % streams the client leaves after the first piece. Redis "
             f"was stopped at {restart.get('stopped_s', '-')} s and started empty at "
             f"{restart.get('restarted_s', '-')} s (the gateway is not told: it waits one lease time, 10 s, before "
             f"leasing again); its 503s are counted apart. Every {soak['sample_seconds']} s: "
             "each worker's VmRSS and open descriptors (`/proc`; its own are those that are not client connections, "
             "`/proc/net/tcp`), its open streams and collector pauses "
             "(`FREESEEK_GC_LOG`, per worker) and Redis' `used_memory`. Redis' keys are not judged: web sessions "
             "level off after their idle time (60 s here), but what tool emulation remembers of each session is "
             "kept the idle time plus an hour (`recollection` in services/store/state.py), so within a 30-minute "
             "soak those keys only grow, each towards its expiry.", "",
             "Against the targets:", "", *verdict(soak), "", f"{total} requests:", "",
             "| outcome | requests |", "|---|---|"]
    lines += [f"| {name} | {n} |" for name, n in sorted(soak["outcomes"].items(), key=lambda kv: -kv[1])]
    for example in soak["examples"][:5]:
        asked = example["fail"] or "no failure asked"
        lines.append(f"\nUnexpected at {example['at']} s: {example['request']} ({asked})"
                     f" -> {example['outcome']}: `{example['detail'][:160]}`")
    if soak["web_violations"]:
        lines += ["", f"The fake web chat saw broken rules: {'; '.join(soak['web_violations'][:3])}."]
    if plot(soak, out):
        lines += ["", "![soak](soak.png)"]
    return lines


def update(soak: dict, out: Path) -> None:
    """Write the soak's section (and plot) into out/benchmarks.md in place of the last one, the rest of the file
    as it was (a soak runs on its own; a full run rewrites the whole file, the soak's section included)."""
    path = out / "benchmarks.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    new = "\n".join(section(soak, out)) + "\n"
    start = text.find("\n## Soak")
    if start < 0:
        path.write_text(text.rstrip("\n") + "\n" + new)
        return
    end = text.find("\n## ", start + 1)
    path.write_text(text[:start].rstrip("\n") + "\n" + new + (text[end:] if end >= 0 else ""))


def plot(soak: dict, out: Path) -> bool:
    """soak.png: per worker RSS, descriptors, open streams and longest pause, and Redis' memory, over time;
    False without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    samples = soak["samples"]
    fig, grid = plt.subplots(2, 3, figsize=(15, 7))
    axes = grid.flatten()
    pids = sorted({pid for s in samples for pid in s["workers"]})
    series = (("rss_kb", "RSS (MiB)", 1 / 1024), ("own_fds", "open descriptors, client connections apart", 1),
              ("streams_open", "open streams", 1), ("gc_max_ms", "longest collector pause (ms)", 1))
    for ax, (key, title, scale) in zip(axes, series):
        for i, pid in enumerate(pids):
            points = [(s["t"] / 60, s["workers"][pid][key] * scale) for s in samples
                      if key in s["workers"].get(pid, {})]
            ax.plot([t for t, _ in points], [v for _, v in points], label=f"worker {i + 1}")
        ax.set_title(title)
        ax.set_xlabel("minutes")
        ax.legend()
    for i, pid in enumerate(pids):  # how many of them are Redis connections
        points = [(s["t"] / 60, s["workers"][pid]["redis_fds"]) for s in samples if pid in s["workers"]]
        axes[1].plot([t for t, _ in points], [v for _, v in points], linestyle="--", color=f"C{i}",
                     label=f"worker {i + 1}, to Redis")
    axes[1].legend()
    axes[3].axhline(PAUSE_LIMIT_MS, color="red", linestyle="--", label=f"{PAUSE_LIMIT_MS} ms")
    axes[3].legend()
    redis = [(s["t"] / 60, s["redis_used_memory"] / 1e6) for s in samples if s["redis_used_memory"] is not None]
    axes[4].plot([t for t, _ in redis], [m for _, m in redis], marker=".")
    axes[4].set_title("Redis used_memory (MB) and keys")
    axes[4].set_xlabel("minutes")
    keys = [(s["t"] / 60, s["redis_keys"]) for s in samples if s.get("redis_keys") is not None]
    twin = axes[4].twinx()
    twin.plot([t for t, _ in keys], [k for _, k in keys], color="C2", linestyle="--", label="keys")
    twin.legend(loc="lower right")
    rates = [(b["t"] / 60, (b["requests"] - a["requests"]) / (b["t"] - a["t"])) for a, b in zip(samples, samples[1:])]
    axes[5].plot([t for t, _ in rates], [r for _, r in rates])
    axes[5].set_title("requests answered per second (all workers)")
    axes[5].set_xlabel("minutes")
    for ax in axes:
        ax.axvline(soak["warmup_minutes"], color="gray", linestyle=":")
        if "stopped_s" in soak["redis_restart"]:
            ax.axvspan(soak["redis_restart"]["stopped_s"] / 60, soak["redis_restart"]["restarted_s"] / 60,
                       color="orange", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "soak.png", dpi=100)
    plt.close(fig)
    return True

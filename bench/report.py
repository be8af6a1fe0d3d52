"""Turn results.json into benchmarks.md (tables, verdicts against the targets) and PNG plots."""

from __future__ import annotations

from pathlib import Path


def _ms(value) -> str:
    return "-" if value is None else f"{value:.2f}"


def _stream_rows(results: dict) -> dict[int, dict[str, dict]]:
    rows: dict[int, dict[str, dict]] = {}
    for row in results.get("slow_streams", []):
        rows.setdefault(row["streams"], {})[row["contestant"]] = row
    return rows


def verdicts(results: dict) -> str:
    """Where we stand against each target of the benchmark issue."""
    lines = []
    for mode in ("non_stream", "stream") if "latency" in results else ():
        row = results["latency"][mode].get("freeseek", {})
        target = "met" if row.get("added_p50_ms", 99) <= 1.5 else "NOT met"
        line = f"- added latency p50, {mode}: {_ms(row.get('added_p50_ms'))} ms (target <= 1.5 ms: {target})"
        litellm = results["latency"][mode].get("litellm")
        if litellm and litellm.get("added_p50_ms"):
            ratio = row["added_p50_ms"] / litellm["added_p50_ms"]
            line += f"; {ratio:.3f}x LiteLLM's {_ms(litellm['added_p50_ms'])} ms (target <= 0.15x: " \
                    f"{'met' if ratio <= 0.15 else 'NOT met'})"
        lines.append(line)
    for n, pair in sorted(_stream_rows(results).items()):
        gw, direct = pair.get("freeseek"), pair.get("direct")
        if not gw:
            continue
        added = gw["delay_p99_ms"] - direct["delay_p99_ms"] if direct else None
        steady = gw["open_delay_p99_ms"] - direct["open_delay_p99_ms"] if direct else None
        lines.append(f"- {n} slow streams on one worker: {gw['errors']} errors, "
                     f"{_ms(gw['rss_per_stream_kb'])} KiB RSS per stream, p99 added per-chunk delay {_ms(added)} ms "
                     f"over the run, {_ms(steady)} ms once all were open (targets: 0 errors, <= 50 KB, <= 5 ms)")
    pow_ = results.get("pow")
    if pow_:
        lines.append(f"- proof of work, worst case: solver {pow_['solver_s']:.3f} s vs hashlib loop "
                     f"{pow_['hashlib_loop_s']:.3f} s ({'met' if pow_['solver_s'] <= pow_['hashlib_loop_s'] else 'NOT met'})")
    tools = results.get("tools")
    if tools:
        t = tools["totals"]
        met = tools["recovered_pct"] == 100 and t["leaked"] == 0 and t["false_calls"] == 0
        lines.append(f"- tool calling on the web chat: {tools['recovered_pct']:.1f} % of {tools['call_answers']} "
                     f"call answers recovered exactly, {t['leaked']} leaked markup, {t['false_calls']} false calls "
                     f"(target 100 % / 0 / 0: {'met' if met else 'NOT met'})")
    return "\n".join(lines)


def write(results: dict, out: Path) -> None:
    """Write benchmarks.md and, when matplotlib is installed, the plots beside it."""
    lines = [f"# Benchmarks ({results['mode']} run, {results['started']})", "",
             f"Machine: {results['machine']['cpus']} CPUs, Python {results['machine']['python']}, "
             f"{results['machine']['platform']}. Everything on loopback: the fake upstream (`bench/upstream.py`), "
             "the gateway (`gunicorn wsgi:app`, one gevent worker), LiteLLM's proxy (one worker) and the load "
             "client (`bench/client.py`, gevent) share the machine.", "",
             "## Against the targets", "", verdicts(results), "",
             "## Latency at concurrency 1 (time to last byte, keep-alive, contestants interleaved)", "",
             "| mode | contestant | p50 ms | p99 ms | added p50 ms | added p99 ms |", "|---|---|---|---|---|---|"]
    for mode, rows in results.get("latency", {}).items():
        for name, row in rows.items():
            lines.append(f"| {mode} | {name} | {_ms(row['p50_ms'])} | {_ms(row['p99_ms'])} | "
                         f"{_ms(row.get('added_p50_ms'))} | {_ms(row.get('added_p99_ms'))} |")
    lines += ["", "## Throughput at concurrency 64 (requests/s)", "", "| mode | contestant | requests/s | errors |",
              "|---|---|---|---|"]
    for mode, rows in results.get("throughput", {}).items():
        for name, row in rows.items():
            lines.append(f"| {mode} | {name} | {row['rps']:.0f} | {row['errors']} |")
    config = results["config"]
    lines += ["", f"## Slow streams ({config.get('stream_chunks')} chunks, {config.get('stream_pace')} s apart, held at once)",
              "", "Streams open over `ramp s`; *all open* counts only chunks sent after the last stream had started.", "",
              "| streams | contestant | ramp s | complete | errors | RSS before MiB | RSS open MiB | KiB per stream | "
              "delay p50 ms | p99 ms | all open: p50 ms | p99 ms |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in results.get("slow_streams", []):
        lines.append(f"| {row['streams']} | {row['contestant']} | {row['ramp_s']:.0f} | {row['complete']} | "
                     f"{row['errors']} | {row['rss_before_kb'] / 1024:.0f} | {row['rss_open_kb'] / 1024:.0f} | "
                     f"{_ms(row['rss_per_stream_kb'])} | {_ms(row['delay_p50_ms'])} | {_ms(row['delay_p99_ms'])} | "
                     f"{_ms(row['open_delay_p50_ms'])} | {_ms(row['open_delay_p99_ms'])} |")
    pow_ = results.get("pow")
    if pow_:
        lines += ["", "## Proof of work (difficulty 144000, answer 143999)", "",
                  f"Solver: {pow_['solver_s']:.3f} s (median of {pow_['runs']}); a plain `hashlib.sha3_256` loop "
                  f"over the same 144000 inputs: {pow_['hashlib_loop_s']:.3f} s; first solve in a fresh process "
                  f"(importing and compiling the kernel): {pow_['first_solve_in_process_s']:.2f} s."]
    lines += _tool_lines(results.get("tools"))
    if "latency" in results and _plot(results, out):
        lines += ["", "![latency](latency.png)", "", "![slow streams](slow_streams.png)"]
    (out / "benchmarks.md").write_text("\n".join(lines) + "\n")


def _plot(results: dict, out: Path) -> bool:
    """Bar charts of added latency and of slow-stream memory and delay; False without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, mode in zip(axes, ("non_stream", "stream")):
        rows = {k: v for k, v in results["latency"][mode].items() if k != "direct"}
        names = list(rows)
        ax.bar([i - 0.2 for i in range(len(names))], [rows[n]["added_p50_ms"] for n in names], 0.4, label="p50")
        ax.bar([i + 0.2 for i in range(len(names))], [rows[n]["added_p99_ms"] for n in names], 0.4, label="p99")
        ax.set_xticks(range(len(names)), names)
        ax.set_title(f"added latency, {mode.replace('_', '-')} (ms)")
        ax.legend()
    fig.tight_layout()
    fig.savefig(out / "latency.png", dpi=100)
    plt.close(fig)
    rows = _stream_rows(results)
    ns = [n for n in sorted(rows) if "freeseek" in rows[n]]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    axes[0].bar([str(n) for n in ns], [rows[n]["freeseek"]["rss_per_stream_kb"] for n in ns])
    axes[0].axhline(50 * 1000 / 1024, color="red", linestyle="--", label="target 50 KB")
    axes[0].set_title("gateway RSS per open stream (KiB)")
    axes[0].legend()
    for name in ("direct", "freeseek"):
        axes[1].plot(ns, [rows[n][name]["delay_p99_ms"] for n in ns if name in rows[n]], marker="o",
                     label=f"{name}, whole run")
        axes[1].plot(ns, [rows[n][name]["open_delay_p99_ms"] for n in ns if name in rows[n]], marker="x",
                     linestyle="--", label=f"{name}, all open")
    axes[1].set_yscale("log")
    axes[1].set_title("per-chunk delay p99 (ms) vs streams")
    axes[1].legend()
    fig.tight_layout()
    fig.savefig(out / "slow_streams.png", dpi=100)
    plt.close(fig)
    return True


def _tool_lines(tools: dict | None) -> list[str]:
    """The tool-calling section: per case, answers, calls recovered exactly, leaks, false calls."""
    if not tools:
        return []
    lines = ["", "## Tool calling on the web chat (emulated)", "",
             f"Each answer below is split in two at every {'' if tools['stride'] == 1 else str(tools['stride']) + 'th '}"
             "position and sent by the fake web chat; the gateway answers stream and non-stream "
             f"({sum(r['answers'] for r in tools['cases'].values())} requests, {tools['seconds']:.0f} s, run "
             f"{tools.get('started', '-')}). "
             "*Recovered* means the exact calls, the exact text before them and `finish_reason: tool_calls`; "
             "*leaked* means markup in the client's content; *not_a_call* answers must arrive unchanged.", "",
             "| case | answers | recovered | leaked | false calls | text changed |", "|---|---|---|---|---|---|"]
    for case, row in tools["cases"].items():
        recovered = "-" if case.startswith("not_a_call") else row["recovered"]
        lines.append(f"| {case} | {row['answers']} | {recovered} | {row['leaked']} | {row['false_calls']} | "
                     f"{row['text_changed']} |")
    t = tools["totals"]
    lines.append(f"| **all** | {t['answers']} | {t['recovered']} ({tools['recovered_pct']:.1f} % of "
                 f"{tools['call_answers']}) | {t['leaked']} | {t['false_calls']} | {t['text_changed']} |")
    return lines

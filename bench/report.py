"""Turn results.json into benchmarks.md (tables, verdicts against the targets) and PNG plots."""

from __future__ import annotations

from pathlib import Path

from bench import report_sections, soak_report
from bench.report_format import mb as _mb, met as _met, ms as _ms, x as _x
from bench.plots import plot

# The speed-and-footprint issue's goals, all for freeseek.
LATENCY_VS_BARE = 1.0      # added latency p50, as a multiple of the bare relay's
LATENCY_VS_LITELLM = 0.10  # and of LiteLLM's proxy's
CPU_VS_BARE = 1.0          # worker CPU per request under load, as a multiple of the bare relay's
STREAM_KIB = 45            # RSS per open stream, KiB, at up to STREAM_KIB_UP_TO streams
STREAM_KIB_UP_TO = 3000
STREAM_DELAY_MS = 50       # added per-chunk delay p99 once all streams are open (and 0 errors), up to 5,000
INSTALL_MB = 200           # site-packages of a fresh install of requirements.txt
WORKER_MB = 150            # one worker's RSS after a web-chat and an API answer


def stream_rows(results: dict) -> dict[int, dict[str, dict]]:
    """Slow-stream rows by stream count, then contestant."""
    rows: dict[int, dict[str, dict]] = {}
    for row in results.get("slow_streams", []):
        rows.setdefault(row["streams"], {})[row["contestant"]] = row
    return rows


def stream_runs(results: dict) -> list[tuple[int, dict[str, dict]]]:
    """Each slow-stream run in order (a size may be run more than once), its rows by contestant."""
    runs: list[tuple[int, dict[str, dict]]] = []
    for row in results.get("slow_streams", []):
        if not runs or runs[-1][0] != row["streams"] or row["contestant"] in runs[-1][1]:
            runs.append((row["streams"], {}))
        runs[-1][1][row["contestant"]] = row
    return runs


def _added_open_p99(pair: dict, name: str) -> float | None:
    """A contestant's per-chunk delay p99 once all streams were open, less the direct floor's."""
    row, direct = pair.get(name), pair.get("direct")
    return row["open_delay_p99_ms"] - direct["open_delay_p99_ms"] if row and direct else None


def _latency_lines(results: dict) -> list[str]:
    lines = []
    for mode, rows in results.get("latency", {}).items():
        gw = rows.get("freeseek", {})
        line = f"- added latency p50, {mode}: " + ", ".join(
            f"{name} {_ms(row['added_p50_ms'])} ms" for name, row in rows.items() if name != "direct")
        checks = [(gw.get("added_p50_vs_bare"), "bare", LATENCY_VS_BARE),
                  (gw.get("added_p50_vs_litellm"), "LiteLLM", LATENCY_VS_LITELLM)]
        line += "".join(f"; freeseek {ratio:.3f}x {name} (target <= {target:.2f}x: {_met(ratio <= target)})"
                        for ratio, name, target in checks if ratio is not None)
        lines.append(line)
    return lines


def _load_lines(results: dict) -> list[str]:
    lines = []
    for mode, rows in results.get("load", {}).items():
        line = (f"- worker CPU per request at concurrency {results['config']['load_concurrency']}, {mode}: " +
                ", ".join(f"{name} {row['cpu_ms_per_request']:.2f} ms" for name, row in rows.items()))
        if "freeseek" in rows and "bare" in rows:
            ratio = rows["freeseek"]["cpu_ms_per_request"] / rows["bare"]["cpu_ms_per_request"]
            line += f"; freeseek {ratio:.3f}x bare (target <= {CPU_VS_BARE:.2f}x: {_met(ratio <= CPU_VS_BARE)})"
        lines.append(line)
    return lines


def _stream_lines(results: dict) -> list[str]:
    lines, runs = [], stream_runs(results)
    for n, pair in runs:
        gw = pair.get("freeseek")
        if not gw:
            continue
        delay, bare_delay = _added_open_p99(pair, "freeseek"), _added_open_p99(pair, "bare")
        checks = [f"0 errors: {_met(gw['errors'] == 0)}"]
        if n <= STREAM_KIB_UP_TO:
            checks.append(f"<= {STREAM_KIB} KiB per stream: {_met(gw['rss_per_stream_kb'] <= STREAM_KIB)}")
        if delay is not None:
            checks.append(f"<= {STREAM_DELAY_MS} ms: {_met(delay <= STREAM_DELAY_MS)}")
        if delay is not None and bare_delay is not None:
            checks.append(f"within {STREAM_DELAY_MS} ms of bare: {_met(delay - bare_delay <= STREAM_DELAY_MS)}")
        repeats = [m for m, _ in runs].count(n)
        if repeats > 1:
            nth = sum(1 for m, p in runs[:runs.index((n, pair)) + 1] if m == n)
            n = f"{n} (run {nth} of {repeats})"
        line = (f"- {n} slow streams on one worker: freeseek {gw['errors']} errors, {_ms(gw['rss_per_stream_kb'])} "
                f"KiB RSS per open stream, added per-chunk delay p99 once all were open {_ms(delay)} ms")
        bare = pair.get("bare")
        if bare:
            line += (f" (bare: {bare['errors']} errors, {_ms(bare['rss_per_stream_kb'])} KiB, "
                     f"{_ms(_added_open_p99(pair, 'bare'))} ms)")
        lines.append(line + f"; targets: {', '.join(checks)}")
    return lines


def _footprint_lines(results: dict) -> list[str]:
    footprint = results.get("footprint") or {}
    lines = []
    install = footprint.get("install")
    if install:
        lines.append(f"- fresh install of requirements.txt: {install['mb']:.1f} MB in site-packages, pip and "
                     f"setuptools not counted (target <= {INSTALL_MB} MB: {_met(install['mb'] <= INSTALL_MB)})")
    rss = footprint.get("rss")
    if rss:
        after = _mb(rss["after_web_and_api_kb"])
        lines.append(f"- one worker's RSS: {_mb(rss['start_kb']):.1f} MB after start, {after:.1f} MB after one "
                     f"web-chat and one API answer (target <= {WORKER_MB} MB: {_met(after <= WORKER_MB)}); the bare "
                     f"relay's after one answer: {_mb(rss['bare_after_one_answer_kb']):.1f} MB")
    return lines


def verdicts(results: dict) -> str:
    """Where we stand against each target of the speed-and-footprint issue (and the PoW and tool targets)."""
    lines = _latency_lines(results) + _load_lines(results) + _stream_lines(results) + _footprint_lines(results)
    cost = results.get("store_cost")
    if cost and cost.get("redis_us") is not None:
        added = cost["redis_us"] - cost["memory_us"]
        lines.append(f"- the shared store (Redis, loopback) adds {added:.0f} us and {cost['round_trips']} round trips "
                     f"to a continued web request's state calls (target <= 300 us: {_met(added <= 300)})")
    pow_ = results.get("pow")
    if pow_:
        lines.append(f"- proof of work, worst case: solver {pow_['solver_s']:.3f} s vs hashlib loop "
                     f"{pow_['hashlib_loop_s']:.3f} s ({_met(pow_['solver_s'] <= pow_['hashlib_loop_s'])})")
    tools = results.get("tools")
    if tools:
        t = tools["totals"]
        met = tools["recovered_pct"] == 100 and t["leaked"] == 0 and t["false_calls"] == 0
        lines.append(f"- tool calling on the web chat: {tools['recovered_pct']:.1f} % of {tools['call_answers']} "
                     f"call answers recovered exactly, {t['leaked']} leaked markup, {t['false_calls']} false calls "
                     f"(target 100 % / 0 / 0: {_met(met)})")
        drift = tools.get("drift")
        if drift:
            met = drift["recovered_pct"] == 100 and drift["leaked"] == 0 and drift["false_calls"] == 0
            lines.append(f"- tool calling, the DSML drift corpus: {drift['recovered_pct']:.1f} % of "
                         f"{drift['call_answers']} call answers recovered, {drift['leaked']} leaked, "
                         f"{drift['false_calls']} false calls in {drift['text_answers']} look-alikes "
                         f"(target 100 % / 0 / 0: {_met(met)})")
    return "\n".join(lines + soak_report.verdict(results.get("soak")))


def _measure_lines(results: dict) -> list[str]:
    """The latency, load and slow-stream tables."""
    lines = ["## Latency at concurrency 1 (time to last byte, keep-alive, contestants interleaved)", "",
             "*Added* is over the direct floor; the multiples compare added p50s.", "",
             "| mode | contestant | p50 ms | p99 ms | added p50 ms | added p99 ms | x bare | x LiteLLM |",
             "|---|---|---|---|---|---|---|---|"]
    for mode, rows in results.get("latency", {}).items():
        for name, row in rows.items():
            lines.append(f"| {mode} | {name} | {_ms(row['p50_ms'])} | {_ms(row['p99_ms'])} | "
                         f"{_ms(row.get('added_p50_ms'))} | {_ms(row.get('added_p99_ms'))} | "
                         f"{_x(row.get('added_p50_vs_bare'))} | {_x(row.get('added_p50_vs_litellm'))} |")
    config, load = results["config"], results.get("load", {})
    lines += _load_table(config, load) if load else []
    lines += ["", f"## Slow streams ({config.get('stream_chunks')} chunks, {config.get('stream_pace')} s apart, held at once)",
              "", "Streams open over `ramp s`; *all open* counts only chunks sent after the last stream had started. "
              "The bare relay and the gateway start afresh for each size.", "",
              "| streams | contestant | ramp s | complete | errors | RSS before MiB | RSS open MiB | KiB per stream | "
              "delay p50 ms | p99 ms | all open: p50 ms | p99 ms |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in results.get("slow_streams", []):
        lines.append(f"| {row['streams']} | {row['contestant']} | {row['ramp_s']:.0f} | {row['complete']} | "
                     f"{row['errors']} | {row['rss_before_kb'] / 1024:.0f} | {row['rss_open_kb'] / 1024:.0f} | "
                     f"{_ms(row['rss_per_stream_kb'])} | {_ms(row['delay_p50_ms'])} | {_ms(row['delay_p99_ms'])} | "
                     f"{_ms(row['open_delay_p50_ms'])} | {_ms(row['open_delay_p99_ms'])} |")
    return lines


def _load_table(config: dict, load: dict) -> list[str]:
    """Answers, rate and the serving process's CPU per request under load, per mode and contestant."""
    concurrency = config["load_concurrency"]
    lines = ["", f"## Load at concurrency {concurrency}: CPU per request", "",
             f"{config['load_requests']} answers (or as many as {config['load_seconds']} s allow) on {concurrency} "
             "keep-alive connections; *CPU* is the serving process's run time (the sum of its threads' "
             "`/proc/<pid>/task/*/schedstat`, in ns) over the run, divided by the answers.", "",
             "| mode | contestant | answers | errors | requests/s | CPU ms per request | x bare |",
             "|---|---|---|---|---|---|---|"]
    for mode, rows in load.items():
        bare = rows.get("bare", {}).get("cpu_ms_per_request")
        for name, row in rows.items():
            ratio = row["cpu_ms_per_request"] / bare if bare else None
            lines.append(f"| {mode} | {name} | {row['requests']} | {row['errors']} | {row['rps']:.0f} | "
                         f"{row['cpu_ms_per_request']:.2f} | {_x(ratio)} |")
    return lines


def write(results: dict, out: Path) -> None:
    """Write benchmarks.md and, when matplotlib is installed, the plots beside it."""
    lines = [f"# Benchmarks ({results['mode']} run, {results['started']})", "",
             f"Machine: {results['machine']['cpus']} CPUs, Python {results['machine']['python']}, "
             f"{results['machine']['platform']}. Everything on loopback: the fake upstream (`bench/upstream.py`, "
             "*direct*), the bare relay (`bench/bare_relay.py`: Flask, `requests` and nothing else, under gunicorn "
             "with freeseek's gevent settings, the floor of our stack), the gateway (`gunicorn wsgi:app`, one "
             "gevent worker), the gateway scaled out (*freeseek-redis-2w*: two gevent workers sharing leases, queue "
             "and health in a local redis-server; its CPU counts both workers and Redis), LiteLLM's proxy (one worker) and the load client (`bench/client.py`, gevent) share "
             "the machine. The load client and the fake upstream hold back their cyclic collector's full passes "
             "(`quiet_collector` in bench/client.py), so their own pauses are not counted against a contestant; "
             "the gateway does the same (wsgi.py), the bare relay keeps Python's thresholds.", "", "## Against the targets", "",
             verdicts(results), ""]
    lines += _measure_lines(results)
    pow_ = results.get("pow")
    if pow_:
        lines += ["", "## Proof of work (difficulty 144000, answer 143999)", "",
                  f"Solver: {pow_['solver_s']:.3f} s (median of {pow_['runs']}); a plain `hashlib.sha3_256` loop "
                  f"over the same 144000 inputs: {pow_['hashlib_loop_s']:.3f} s; first solve in a fresh process "
                  f"(importing and compiling the kernel): {pow_['first_solve_in_process_s']:.2f} s."]
    lines += report_sections.store_cost_section(results.get("store_cost"))
    lines += report_sections.footprint_section(results.get("footprint"))
    lines += report_sections.tool_lines(results.get("tools"))
    lines += soak_report.section(results.get("soak"), out)
    lines += _by_hand(out / "benchmarks.md")
    if "latency" in results and plot(results, stream_rows(results), out, STREAM_KIB):
        lines += ["", "![latency](latency.png)", "", "![CPU per request](cpu.png)", "",
                  "![slow streams](slow_streams.png)"]
    (out / "benchmarks.md").write_text("\n".join(lines) + "\n")


def _by_hand(page: Path) -> list[str]:
    """The sections of the page so far whose heading says "(by hand": measured by their own commands, kept."""
    text = page.read_text() if page.exists() else ""
    kept = [part for part in text.split("\n## ")[1:] if "(by hand" in part.split("\n", 1)[0]]
    return [line for part in kept for line in ["", *("## " + part.rstrip("\n")).split("\n")]]

"""Turn results.json into benchmarks.md (tables, verdicts against the targets) and PNG plots."""

from __future__ import annotations

from pathlib import Path

from bench import sieve_scale, soak_report
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


def _ms(value) -> str:
    return "-" if value is None else f"{value:.2f}"


def _x(value) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _mb(kib: float) -> float:
    """KiB as MB (10^6 bytes), the unit of the footprint goals."""
    return kib * 1024 / 1e6


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


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


def _footprint_section(footprint: dict | None) -> list[str]:
    """The footprint section: install size and worker memory (MB are 10^6 bytes)."""
    if not footprint:
        return []
    lines = ["", "## Footprint (MB are 10^6 bytes)", ""]
    install = footprint.get("install")
    if install:
        largest = ", ".join(f"`{e['name']}` {_mb(e['kib']):.1f}" for e in install["largest"])
        lines += [f"`pip install -r requirements.txt` into a new virtual environment ({install['install_s']:.0f} s "
                  f"with pip's cache): {install['distributions']} distributions, **{install['mb']:.1f} MB** "
                  f"(`du -skc` over site-packages' entries, with the .pyc files pip compiles, all but "
                  f"{', '.join(install['excluded'])}, which the virtual environment brought). Largest entries, MB: "
                  f"{largest}.", ""]
    rss = footprint.get("rss")
    if rss:
        lines += ["VmRSS of the gunicorn worker (not its master), deepseek-web on the fake web chat (proof of work "
                  "at difficulty 144000, solved by the real kernel) and ollama on the fake upstream:", "",
                  "| process | when | RSS MB |", "|---|---|---|",
                  f"| freeseek | answering GET /ping, before any answer | {_mb(rss['start_kb']):.1f} |",
                  f"| freeseek | after one web-chat answer | {_mb(rss['after_web_kb']):.1f} |",
                  f"| freeseek | after one web-chat and one API answer | {_mb(rss['after_web_and_api_kb']):.1f} |",
                  f"| bare relay | after one answer | {_mb(rss['bare_after_one_answer_kb']):.1f} |"]
        if rss["web_violations"]:
            lines += ["", f"The fake web chat saw broken rules: {'; '.join(rss['web_violations'])}."]
    return lines


# bench.store_cost on main before the Redis round-trip work (commit ce34cee, idle machine, 2026-12-07 06:30 UTC;
# that one_request made one conversation look-up, this one makes the two a real request makes).
STORE_COST_BEFORE = "memory 20 us, Redis 1871 us (+1851 us), about 14 round trips"


def _store_cost_section(cost: dict | None) -> list[str]:
    """What the shared store adds to one request: memory against Redis, and Redis's round trips."""
    if not cost or cost.get("redis_us") is None:
        return []
    return ["", "## Shared store cost per request (Redis mode)", "",
            "`python -m bench.store_cost`: the state calls of one continued web request (conversation look-up, "
            "lease, look-up again, session busy, turn remembered, session idle, success, release; pace off), "
            f"median of {cost['requests']}, against the in-memory store and a local redis-server over loopback.", "",
            f"- now: memory {cost['memory_us']:.0f} us, Redis {cost['redis_us']:.0f} us "
            f"(+{cost['redis_us'] - cost['memory_us']:.0f} us), {cost['round_trips']} round trips "
            f"(target <= +300 us: {_met(cost['redis_us'] - cost['memory_us'] <= 300)})",
            f"- before (issue 26): {STORE_COST_BEFORE}",
            "- round trips through the app (tests/unit/test_redis_round_trips.py): an API request 2 (was 6), a "
            "continued web request with its pace 9 (was 21)"]


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
    lines += _store_cost_section(results.get("store_cost"))
    lines += _footprint_section(results.get("footprint"))
    lines += _tool_lines(results.get("tools"))
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
    return lines + _drift_lines(tools.get("drift")) + sieve_scale.lines(tools.get("large_arguments"))


def _drift_lines(drift: dict | None) -> list[str]:
    """The drift corpus: DeepSeek's DSML spellings and their look-alikes through the streaming sieve."""
    if not drift:
        return []
    every = "every" if drift["stride"] == 1 else f"every {drift['stride']}th"
    return ["", "### The DSML drift corpus", "",
            f"{drift['call_cases']} generated call answers (8 prefix spellings on each of the six tags, opening and "
            "closing apart, x both block names x 1-3 calls x CDATA or plain values x flat or indented) and "
            f"{drift['look_alikes']} look-alikes that must stay text (mentions in a sentence, code spans, quotes, "
            "fences with other code, examples, HTML, unknown tools, incomplete blocks), each sent whole and split in "
            f"two at {every} position through the streaming sieve ({drift['seconds']:.0f} s).", "",
            "| answers | recovered | leaked | look-alike answers | false calls | text changed |",
            "|---|---|---|---|---|---|",
            f"| {drift['call_answers']} | {drift['recovered']} ({drift['recovered_pct']:.1f} %) | {drift['leaked']} | "
            f"{drift['text_answers']} | {drift['false_calls']} | {drift['text_changed']} |"]

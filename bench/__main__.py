"""Run every benchmark: `python -m bench` (full, several minutes) or `python -m bench --quick` (under a minute);
`python -m bench --soak [MINUTES]` runs the soak alone."""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from bench import footprint, report, scenarios, sieve_scale, soak, soak_report, store_cost, tool_calls  # noqa: E402
from bench.client import quiet_collector  # noqa: E402
from bench.contestants import ROOT, start_bare, start_gateway, start_litellm, start_redis, start_upstream  # noqa: E402

# load_requests (or as many as load_seconds allow LiteLLM) make seconds of worker CPU: a steady per-request figure.
FULL = {"latency_requests": 1000, "load_concurrency": 32, "load_requests": 3000, "load_seconds": 30,
        "streams": [1000, 3000, 5000], "stream_chunks": 30, "stream_pace": 1.0, "ramp_seconds": 20, "pow_runs": 5,
        "tool_stride": 1}
QUICK = {"latency_requests": 100, "load_concurrency": 32, "load_requests": 300, "load_seconds": 10,
         "streams": [200], "stream_chunks": 5, "stream_pace": 0.2, "ramp_seconds": 0, "pow_runs": 1, "tool_stride": 29}


def summary(times: dict[str, list[float]]) -> dict:
    """p50/p99 per contestant, what each proxy adds over the direct floor in milliseconds, and each proxy's
    added p50 as a multiple of the bare relay's and LiteLLM's."""
    out = {name: {"p50_ms": scenarios.percentile(t, 50) * 1000, "p99_ms": scenarios.percentile(t, 99) * 1000}
           for name, t in times.items()}
    for name, row in out.items():
        if name != "direct":
            row["added_p50_ms"] = row["p50_ms"] - out["direct"]["p50_ms"]
            row["added_p99_ms"] = row["p99_ms"] - out["direct"]["p99_ms"]
    for name, row in out.items():
        for other in ("bare", "litellm"):
            base = out.get(other, {}).get("added_p50_ms", 0)
            if name not in ("direct", other) and base > 0:
                row[f"added_p50_vs_{other}"] = row["added_p50_ms"] / base
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, no LiteLLM: a smoke run for CI")
    parser.add_argument("--litellm", action=argparse.BooleanOptionalAction, default=None,
                        help="include LiteLLM's proxy (default: in full runs)")
    parser.add_argument("--streams", help="comma-separated slow-stream counts, e.g. 1000,2000,5000")
    parser.add_argument("--install-size", action=argparse.BooleanOptionalAction, default=None,
                        help="measure a fresh install of requirements.txt (default: in full runs)")
    parser.add_argument("--only", choices=["tools"], help="run only this scenario and merge its figures into the "
                                                          "results.json already in --out")
    parser.add_argument("--soak", type=float, nargs="?", const=30, metavar="MINUTES",
                        help="run only the soak (bench/soak.py) for MINUTES (default 30) and merge it into the "
                             "results.json in --out (default: docs/ for 30 minutes or more, else a temporary folder)")
    parser.add_argument("--soak-warmup", type=float, default=5, metavar="MINUTES",
                        help="the soak's warm-up, not judged for growth (default 5; at most half the run)")
    parser.add_argument("--soak-clients", type=int, default=100, help="the soak's concurrent clients (default 100)")
    parser.add_argument("--out", help="folder for results.json, benchmarks.md and plots (default: docs/ for "
                                      "full runs, a temporary folder for quick ones)")
    args = parser.parse_args()
    quiet_collector()
    config = dict(QUICK if args.quick else FULL)
    if args.streams:
        config["streams"] = [int(n) for n in args.streams.split(",")]
    use_litellm = (not args.quick) if args.litellm is None else args.litellm
    measure_install = (not args.quick) if args.install_size is None else args.install_size
    out = Path(args.out) if args.out else (Path(tempfile.mkdtemp(prefix="bench-")) if args.quick else ROOT / "docs")
    if args.soak:
        if not args.out:  # a shorter soak is a smoke run: its figures stay out of docs/
            out = ROOT / "docs" if args.soak >= 30 else Path(tempfile.mkdtemp(prefix="soak-"))
        results = _existing(out, "soak only", config)
        print(f"soak: {args.soak:g} minutes, {args.soak_clients} clients...", flush=True)
        results["soak"] = soak.run(args.soak, args.soak_warmup, args.soak_clients,
                                   Path(tempfile.mkdtemp(prefix="soak-run-")))
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.json").write_text(json.dumps(results, indent=2))
        soak_report.update(results["soak"], out)  # its section only: the rest of benchmarks.md stays as it was
        print("\n".join(soak_report.verdict(results["soak"])) + f"\nresults in {out}")
        return
    if args.only == "tools":
        results = _existing(out, "tools only", config)
        print("tool calling...", flush=True)
        results["tools"] = tool_calls.run(config["tool_stride"])
        print("large tool-call arguments...", flush=True)
        results["tools"]["large_arguments"] = sieve_scale.run(quick=args.quick)
        _write(results, out)
        return
    workdir = Path(tempfile.mkdtemp(prefix="bench-run-"))
    results = {"mode": "quick" if args.quick else "full", "config": config,
               "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
               "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    running = []
    try:
        upstream = start_upstream(workdir)
        running.append(upstream)
        redis = start_redis(workdir)   # for freeseek on Redis with 2 workers, beside the single worker
        running.append(redis)
        proxies = [start_bare(workdir, upstream), start_gateway(workdir, upstream),
                   start_gateway(workdir, upstream, redis=redis)]
        running += proxies
        if use_litellm:
            print("starting LiteLLM (its virtual environment is created on first use)...", flush=True)
            proxies.append(start_litellm(workdir, upstream, ROOT / "bench" / ".litellm-venv"))
            running.append(proxies[-1])
        for stream in (False, True):
            mode = "stream" if stream else "non_stream"
            print(f"latency, {mode}...", flush=True)
            results.setdefault("latency", {})[mode] = summary(
                scenarios.latency([upstream] + proxies, config["latency_requests"], stream))
            print(f"CPU per request at concurrency {config['load_concurrency']}, {mode}...", flush=True)
            results.setdefault("load", {})[mode] = {c.name: scenarios.load(
                c, config["load_concurrency"], config["load_requests"], stream, config["load_seconds"])
                for c in proxies}
        for proxy in proxies + [redis]:
            proxy.stop()
            running.remove(proxy)
        for n in config["streams"]:
            results.setdefault("slow_streams", []).extend(_slow_streams(n, config, workdir, upstream, running))
        print("footprint: worker memory after start and after a web and an API answer...", flush=True)
        results["footprint"] = {"rss": footprint.worker_rss(workdir, upstream)}
        if measure_install:
            print("footprint: a fresh install of requirements.txt...", flush=True)
            results["footprint"]["install"] = footprint.install_size(workdir)
        print("shared store: state calls per request, memory and Redis...", flush=True)
        results["store_cost"] = store_cost.run_apart(200 if args.quick else 2000)
        print("proof of work...", flush=True)
        results["pow"] = scenarios.proof_of_work(config["pow_runs"])
    finally:
        for contestant in reversed(running):
            contestant.stop()
    print("tool calling...", flush=True)
    results["tools"] = tool_calls.run(config["tool_stride"])
    print("large tool-call arguments...", flush=True)
    results["tools"]["large_arguments"] = sieve_scale.run(quick=args.quick)
    _write(results, out)


def _slow_streams(n: int, config: dict, workdir: Path, upstream, running: list) -> list[dict]:
    """n slow streams held at once through the upstream directly, then through a fresh bare relay and gateway."""
    # Open the streams over ramp_seconds (less than a stream lasts, so all are open at once).
    rate = n / config["ramp_seconds"] if config["ramp_seconds"] else 0
    shape = (n, config["stream_chunks"], config["stream_pace"], rate)
    print(f"{n} slow streams through {upstream.name}...", flush=True)
    rows = [{"contestant": upstream.name, **scenarios.slow_streams(upstream, *shape, None)}]
    for start in (start_bare, start_gateway):
        # A fresh process for each size, so its memory before the streams is a clean baseline.
        fresh = start(workdir, upstream)
        running.append(fresh)
        scenarios.latency([fresh], 20, True)  # imports and caches loaded before the memory baseline
        print(f"{n} slow streams through {fresh.name}...", flush=True)
        rows.append({"contestant": fresh.name, **scenarios.slow_streams(fresh, *shape, fresh.server_pid)})
        fresh.stop()
        running.remove(fresh)
    return rows


def _existing(out: Path, mode: str, config: dict) -> dict:
    """The results.json already in `out`, to merge one scenario into, or a new one."""
    existing = out / "results.json"
    return json.loads(existing.read_text()) if existing.exists() else {
        "mode": mode, "config": config, "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}}


def _write(results: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    previous = out / "results.json"
    if "soak" not in results and previous.exists():  # the soak runs on its own: a later run keeps its figures
        soak_before = json.loads(previous.read_text()).get("soak")
        if soak_before:
            results["soak"] = soak_before
    (out / "results.json").write_text(json.dumps(results, indent=2))
    report.write(results, out)
    print(report.verdicts(results))
    print(f"results in {out}")


if __name__ == "__main__":
    main()

"""The measurements: added latency, CPU per request under load, many slow streams, and the proof-of-work solver."""

from __future__ import annotations

import hashlib
import statistics
import time

import gevent

from bench.client import Connection, HttpError, chunk_delays, timed_request
from bench.contestants import CHAT_PATH, Contestant, cpu_seconds, rss_kb


def body(chunks: int, pace: float, stream: bool) -> dict:
    """A chat request whose answer has `chunks` pieces, `pace` seconds apart."""
    return {"model": "deepseek-chat", "stream": stream,
            "messages": [{"role": "user", "content": f"chunks={chunks} pace={pace}"}]}


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))] if ordered else float("nan")


def latency(contestants: list[Contestant], requests: int, stream: bool) -> dict[str, list[float]]:
    """Time to last byte at concurrency 1 on keep-alive connections, contestants interleaved request by request."""
    conns = {c.name: Connection(c.port) for c in contestants}
    times: dict[str, list[float]] = {c.name: [] for c in contestants}
    request = body(20, 0, stream)
    for i in range(requests + 20):
        for c in contestants[i % len(contestants):] + contestants[:i % len(contestants)]:
            elapsed = timed_request(conns[c.name], CHAT_PATH, request, c.token)
            if i >= 20:  # the first requests warm connections, imports and caches
                times[c.name].append(elapsed)
    for conn in conns.values():
        conn.close()
    return times


def load(contestant: Contestant, concurrency: int, requests: int, stream: bool, max_seconds: float) -> dict:
    """`requests` answers with `concurrency` clients on keep-alive connections (fewer if `max_seconds` pass
    first): requests per second, and the CPU time the serving process spent per answer."""
    done, errors, left = [0], [0], [requests]
    deadline = time.monotonic() + max_seconds
    request = body(20, 0, stream)

    def client():
        conn = Connection(contestant.port)
        while left[0] > 0 and time.monotonic() < deadline:
            left[0] -= 1
            try:
                timed_request(conn, CHAT_PATH, request, contestant.token)
                done[0] += 1
            except (HttpError, OSError):
                errors[0] += 1
                conn.close()
                conn = Connection(contestant.port)
        conn.close()
    pids = contestant.server_pids   # every worker, and a Redis the gateway's workers share
    cpu, started = sum(map(cpu_seconds, pids)), time.monotonic()
    gevent.joinall([gevent.spawn(client) for _ in range(concurrency)])
    elapsed, cpu = time.monotonic() - started, sum(map(cpu_seconds, pids)) - cpu
    return {"requests": done[0], "errors": errors[0], "seconds": elapsed,
            "rps": done[0] / elapsed, "cpu_ms_per_request": cpu * 1000 / max(1, done[0])}


def slow_streams(contestant: Contestant, streams: int, chunks: int, pace: float, ramp_per_second: float,
                 server_pid: int | None) -> dict:
    """Hold many slow streams at once: success rate, memory per stream, and per-chunk delay."""
    results: list[tuple[list[float], bool]] = []
    failures: list[str] = []
    request = body(chunks, pace, True)

    def one():
        try:
            conn = Connection(contestant.port, timeout=chunks * pace + 120)
            results.append(chunk_delays(conn, CHAT_PATH, request, contestant.token))
            conn.close()
        except (HttpError, OSError) as exc:
            failures.append(type(exc).__name__)
    rss_before = rss_kb(server_pid) if server_pid else 0
    started = time.time()
    greenlets = []
    for i in range(streams):
        greenlets.append(gevent.spawn(one))
        if ramp_per_second and i % 100 == 99:
            gevent.sleep(100 / ramp_per_second)
    # All streams are open once the ramp is over and one more chunk interval has passed.
    all_open = time.time()
    gevent.sleep(max(pace * 2, 1.0))
    rss_open = rss_kb(server_pid) if server_pid else 0
    gevent.joinall(greenlets, timeout=chunks * pace + 180)
    delays = [d for pairs, _ in results for _, d in pairs]
    # Chunks sent once every stream was open, apart from those sent while new streams were still starting.
    steady = [d for pairs, _ in results for sent, d in pairs if sent >= all_open + pace]
    complete = sum(1 for pairs, finished in results if finished and len(pairs) == chunks)
    return {"streams": streams, "complete": complete, "errors": streams - complete, "failures": failures[:5],
            "ramp_s": all_open - started, "rss_before_kb": rss_before, "rss_open_kb": rss_open,
            "rss_per_stream_kb": (rss_open - rss_before) / streams if server_pid else None,
            "delay_p50_ms": percentile(delays, 50) * 1000, "delay_p99_ms": percentile(delays, 99) * 1000,
            "open_delay_p50_ms": percentile(steady, 50) * 1000, "open_delay_p99_ms": percentile(steady, 99) * 1000}


def proof_of_work(runs: int) -> dict:
    """The solver's worst case (difficulty 144000, answer 143999) against a plain hashlib.sha3_256 loop."""
    from services.providers.deepseek_web.pow import solve
    challenge = "f99dfd1071f8bdb8d9ca5df4738ed14510c7e349b47aaae25de825a4d007e539"
    prefix = "0f1e2d3c4b5a69788796_1767225600000_"
    started = time.perf_counter()
    assert solve(challenge, "0f1e2d3c4b5a69788796", 1767225600000, 144000) == 143999
    first = time.perf_counter() - started
    solver, loop = [], []
    for _ in range(runs):
        started = time.perf_counter()
        solve(challenge, "0f1e2d3c4b5a69788796", 1767225600000, 144000)
        solver.append(time.perf_counter() - started)
        started = time.perf_counter()
        for n in range(144000):
            hashlib.sha3_256(f"{prefix}{n}".encode()).hexdigest()
        loop.append(time.perf_counter() - started)
    return {"solver_s": statistics.median(solver), "hashlib_loop_s": statistics.median(loop),
            "first_solve_in_process_s": first, "runs": runs}

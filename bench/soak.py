"""The soak: mixed traffic for many minutes on a 2-worker gateway over Redis, with a Redis restart halfway, and
each worker's memory, descriptors, open streams and collector pauses sampled every 10 s (`python -m bench --soak`)."""

from __future__ import annotations

import json
import logging
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import gevent

from bench.contestants import ACCOUNT_CARE_OFF, ROOT, children, free_port, rss_kb, start_upstream, wait_for_port
from bench.soak_traffic import Traffic, script_web, web_text

SAMPLE_SECONDS = 10
REDIS_DOWN_SECONDS = 3      # how long Redis stays stopped halfway through
REDIS_GRACE_SECONDS = 5     # a request that ends this long after the restart may still have met the gap
GROWTH_LIMIT = 0.05         # RSS and descriptors may grow this much from the end of the warm-up to the end
PAUSE_LIMIT_MS = 100
WINDOW_SECONDS = 60         # growth compares the medians of the first and last minute after the warm-up
# A worker's Redis connections are bounded, not flat: its pool (FREESEEK_REDIS_MAX_CONNECTIONS, 32) keeps what
# a burst opened, such as the waiters released together after the restart; plus its pub/sub listener.
REDIS_CONNECTIONS_LIMIT = 32 + 1
# Account care off: the soak's web accounts answer back to back, and idle sessions are deleted within the run.
UNPACED = {**ACCOUNT_CARE_OFF, "FREESEEK_WEB_SESSION_IDLE_SECONDS": "60"}


class Gateway:
    """freeseek under gunicorn with two gevent workers on Redis, each logging its collector (FREESEEK_GC_LOG)."""

    def __init__(self, workdir: Path, env: dict) -> None:
        self.port = free_port()
        self.gc_dir = workdir / "gc"
        self.log = workdir / "freeseek.log"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "-b", f"127.0.0.1:{self.port}", "wsgi:app"],
            cwd=ROOT, env={**os.environ, **env, "WEB_CONCURRENCY": "2", "FREESEEK_GC_LOG": str(self.gc_dir)},
            stdout=self.log.open("w"), stderr=subprocess.STDOUT)
        wait_for_port(self.port, self.process, 30, self.log)
        self._offsets: dict[int, int] = {}

    def workers(self) -> list[int]:
        """The worker processes' ids (the master's children)."""
        return sorted(children(self.process.pid))

    def wait_ready(self, seconds: float = 60) -> None:
        """Until both workers write their collector lines (they have loaded the app)."""
        deadline = time.monotonic() + seconds
        while len(list(self.gc_dir.glob("worker-*.jsonl"))) < 2:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"the workers did not start:\n{self.log.read_text()[-3000:]}")
            gevent.sleep(0.2)  # the lines are files another process writes: nothing to await

    def collector(self, pid: int) -> dict:
        """The worker's collector lines since the last call: collections, longest pause, open streams."""
        path = self.gc_dir / f"worker-{pid}.jsonl"
        if not path.exists():
            return {}
        with path.open() as lines:
            lines.seek(self._offsets.get(pid, 0))
            rows = [json.loads(line) for line in lines if line.endswith("\n")]
            self._offsets[pid] = lines.tell()
        if not rows:
            return {}
        longest = max(rows, key=lambda r: r["pause_max_ms"])
        return {"gc_collections": sum(r["collections"] for r in rows),
                "gc_total_ms": round(sum(r["pause_total_ms"] for r in rows), 3), "gc_max_ms": longest["pause_max_ms"],
                "gc_max_cpu_ms": longest["pause_max_cpu_ms"], "gc_max_generation": longest["pause_max_generation"],
                "streams_open": int(rows[-1]["streams_open"])}

    def stop(self) -> None:
        """Stop gunicorn (its workers finish or cancel their answers)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _providers(workdir: Path, upstream_port: int, web_url: str) -> Path:
    """The providers file: the bench upstream, the fake web chat, and one API and one web provider where
    nothing listens (refused connections)."""
    closed = free_port()
    path = workdir / "providers.toml"
    path.write_text(f'[providers.ollama]\nbase_url = "http://127.0.0.1:{upstream_port}/v1"\n'
                    f'[providers.refused]\nbase_url = "http://127.0.0.1:{closed}/v1"\n'
                    f'[providers.deepseek-web]\nbase_url = "{web_url}"\n'
                    f'[providers.webrefused]\nadapter = "deepseek-web"\nbase_url = "http://127.0.0.1:{closed}"\n')
    return path


def _redis_state(redis_server) -> dict:
    """Redis' used_memory in bytes and its number of keys; None while it is stopped."""
    import redis
    try:
        client = redis.Redis(port=redis_server.port, socket_timeout=2, socket_connect_timeout=1)
        try:
            return {"redis_used_memory": int(client.info("memory")["used_memory"]), "redis_keys": client.dbsize()}
        finally:
            client.close()
    except redis.RedisError:
        return {"redis_used_memory": None, "redis_keys": None}  # stopped: the restart's gap


def tcp_sockets() -> dict[str, tuple[int, int, str]]:
    """Every TCP socket of the machine by its descriptor link ("socket:[inode]"): (local port, remote port,
    state; "0A" is listening)."""
    sockets = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            ports = [int(address.rsplit(":", 1)[1], 16) for address in fields[1:3]]
            sockets[f"socket:[{fields[9]}]"] = (ports[0], ports[1], fields[3])
    return sockets


def descriptors(pid: int, sockets: dict, peers: dict[int, str], port: int) -> dict[str, int]:
    """A process's open descriptors: all, client connections (accepted on `port`), and connections to each
    named peer port (`peers`: port -> name)."""
    links = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            links.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:  # closed between the listing and the read
            continue
    counts = {"fds": len(links), "client_fds": 0, **{f"{name}_fds": 0 for name in peers.values()}}
    for link in links:
        local, remote, state = sockets.get(link, (0, 0, ""))
        if local == port and state != "0A":
            counts["client_fds"] += 1
        elif remote in peers:
            counts[f"{peers[remote]}_fds"] += 1
    counts["own_fds"] = counts["fds"] - counts["client_fds"]
    counts["other_fds"] = counts["own_fds"] - counts.get("redis_fds", 0)
    return counts


def _sample(gateway: Gateway, peers: dict[int, str], redis_server, started: float, traffic: Traffic,
            seen: set) -> dict:
    """Each worker's memory, descriptors, collector and open streams, Redis' memory and the requests so far."""
    workers = {}
    sockets = tcp_sockets()
    for pid in gateway.workers():
        seen.add(pid)
        try:
            workers[str(pid)] = {"rss_kb": rss_kb(pid), **descriptors(pid, sockets, peers, gateway.port),
                                 **gateway.collector(pid)}
        except OSError:  # the worker ended between the listing and the read
            continue
    return {"t": round(time.time() - started, 1), "workers": workers, **_redis_state(redis_server),
            "requests": sum(traffic.tally.requests.values())}


def _restart_redis(redis_server, traffic: Traffic, started: float, when: dict) -> None:
    """Stop Redis, keep it down a few seconds, start it empty on the same port (no leases-ready mark: the
    gateway must find out that it lost its data)."""
    gap = [time.time(), float("inf")]
    traffic.tally.redis_gaps.append(gap)
    when["stopped_s"] = round(gap[0] - started, 1)
    redis_server.stop()
    gevent.sleep(REDIS_DOWN_SECONDS)
    redis_server.start()
    when["restarted_s"] = round(time.time() - started, 1)
    gap[1] = time.time() + REDIS_GRACE_SECONDS


def _forget(web) -> None:
    """Drop the fake web chat's records of finished calls (a soak's worth would fill the bench's memory)."""
    for records in (web.requests, web.completions, web.continues, web.stops, web.deletions, web.answers,
                    web.deletion_times, web.uploads):
        records.clear()


def run(minutes: float, warmup: float, clients: int, workdir: Path) -> dict:
    """The soak; its samples, the outcomes by kind and the verdicts."""
    from tests.fakes.deepseek_web import FakeWebChat
    from tests.fakes.redis_server import RedisServer
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    warmup = min(warmup, minutes / 2)  # a short smoke run keeps a second half to judge
    redis_server = RedisServer()
    redis_server.mark_fresh()
    upstream = start_upstream(workdir)
    gateway = None
    try:
        with FakeWebChat(difficulty=1500) as web:
            web_tokens = [web.account(f"soak-web-{i}", text=web_text, pace=0.05) for i in range(clients)]
            env = {"FREESEEK_PROVIDERS_FILE": str(_providers(workdir, upstream.port, web.url)),
                   "FREESEEK_REDIS_URL": redis_server.url, "FREESEEK_LOG_LEVEL": "WARNING", **UNPACED}
            gateway = Gateway(workdir, env)
            gateway.wait_ready()
            print(f"  the gateway's and the upstream's logs are in {workdir}", flush=True)
            traffic = Traffic(gateway.port, web_tokens, script_web(web))
            peers = {redis_server.port: "redis", upstream.port: "upstream", web.port: "web"}
            started, samples, seen, restart = time.time(), [], set(), {}
            traffic.start()
            restarter = gevent.spawn_later(minutes * 30, _restart_redis, redis_server, traffic, started, restart)
            for k in range(1, int(minutes * 60 / SAMPLE_SECONDS) + 1):
                gevent.sleep(max(0.0, started + k * SAMPLE_SECONDS - time.time()))
                samples.append(_sample(gateway, peers, redis_server, started, traffic, seen))
                _forget(web)
                print(_progress(samples[-1]), flush=True)
            restarter.join()
            traffic.stop()
            violations = list(web.violations)
    finally:
        if gateway is not None:
            gateway.stop()
        upstream.stop()
        redis_server.stop()
    tally = traffic.tally
    for example in tally.examples:
        example["at"] = round(example["at"] - started, 1)  # seconds into the run, as the samples' times
    results = {"minutes": minutes, "warmup_minutes": warmup, "clients": clients, "sample_seconds": SAMPLE_SECONDS,
               "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)), "redis_restart": restart,
               "requests": dict(tally.requests), "outcomes": dict(tally.outcomes), "unexpected": tally.unexpected(),
               "examples": tally.examples, "web_violations": violations[:10], "workers_seen": len(seen),
               "samples": samples}
    results["verdicts"] = verdicts(results)
    return results


def _progress(sample: dict) -> str:
    """A sample as one line on the console."""
    workers = ", ".join(f"{pid}: {w['rss_kb'] / 1024:.0f} MiB {w['own_fds']} fds (redis {w['redis_fds']}) "
                        f"+{w['client_fds']} clients "
                        f"{w.get('streams_open', '-')} streams "
                        f"gc max {w.get('gc_max_ms', '-')} ms" for pid, w in sample["workers"].items())
    memory, keys = sample["redis_used_memory"], sample["redis_keys"]
    redis = "-" if memory is None else f"{memory / 1e6:.1f} MB, {keys} keys"
    return f"  {sample['t']:6.0f} s  {sample['requests']} requests  {workers}  redis {redis}"


def _window_growth(first: list[dict], last: list[dict], key: str) -> tuple[float, float, float]:
    """(median at the start, median at the end, growth in %) of a worker's figure over two windows of samples."""
    start, end = statistics.median(w[key] for w in first), statistics.median(w[key] for w in last)
    return start, end, 100 * (end - start) / start


def verdicts(results: dict) -> dict:
    """Pass or not: RSS and descriptors flat after the warm-up, no unexpected error, no long collector pause.
    Growth compares the medians of the minute after the warm-up and of the run's last minute (single samples
    swing with the answers open at that instant); descriptors are the worker's own, without the clients'
    keep-alive connections (which worker a client's next connection lands on is the kernel's draw) and without
    its Redis connections, which must stay within their bound instead."""
    samples = results["samples"]
    warm = results["warmup_minutes"] * 60
    after = [s for s in samples if s["t"] >= warm] or samples[-1:]
    span = min(WINDOW_SECONDS, (after[-1]["t"] - after[0]["t"]) / 2) if after else 0
    growth = {}
    for pid in samples[-1]["workers"] if samples else {}:
        first = [s["workers"][pid] for s in after if pid in s["workers"] and s["t"] <= after[0]["t"] + span]
        last = [s["workers"][pid] for s in after if pid in s["workers"] and s["t"] >= after[-1]["t"] - span]
        if first and last:
            rss, fds = _window_growth(first, last, "rss_kb"), _window_growth(first, last, "other_fds")
            growth[pid] = {"rss_pct": rss[2], "fds_pct": fds[2], "rss_kb": list(rss[:2]), "fds": list(fds[:2])}
    longest = max((w for s in samples for w in s["workers"].values()), key=lambda w: w.get("gc_max_ms", 0),
                  default={})
    redis_most = max((w.get("redis_fds", 0) for s in samples for w in s["workers"].values()), default=0)
    flat = bool(growth) and len(growth) == 2 and results["workers_seen"] == 2 and all(
        g["rss_pct"] < GROWTH_LIMIT * 100 and g["fds_pct"] < GROWTH_LIMIT * 100 for g in growth.values()) \
        and redis_most <= REDIS_CONNECTIONS_LIMIT
    errors = results["unexpected"] + len(results["web_violations"])
    pause = longest.get("gc_max_ms", 0)
    out = {"growth": growth, "flat": flat, "redis_connections_most": redis_most, "errors": errors, "no_errors": errors == 0, "gc_max_ms": pause,
           "gc_max_cpu_ms": longest.get("gc_max_cpu_ms"), "gc_max_generation": longest.get("gc_max_generation"),
           "short_pauses": pause <= PAUSE_LIMIT_MS}
    out["passed"] = out["flat"] and out["no_errors"] and out["short_pauses"]
    return out

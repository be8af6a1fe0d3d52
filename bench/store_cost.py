"""What the shared store costs per request: a web request's state calls on the memory store vs a real Redis."""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import time

from services.credentials import Token
from services.providers.deepseek_web.conversations import Turn
from services.settings import Settings
from services.store.keys import LEASES_READY_KEY
from services.store.state import SharedState

HISTORY = [{"role": "user", "content": "hello"}]


def one_request(pool, conversations, token: Token, n: int) -> None:
    """The state calls one continued web request makes (pace off): the conversation looked up to pin its account,
    the lease, the look-up again once leased, the session busy, the turn remembered, the session idle, the
    success, the release."""
    resent = HISTORY + [{"role": "assistant", "content": f"a{n}"}, {"role": "user", "content": "more"}]
    conversations.match(resent)
    lease = pool.acquire([token], timeout=1, ticket=pool.ticket())
    conversations.match(resent)
    conversations.acquire("sess")
    conversations.remember(resent, f"b{n}", Turn("sess", n, token))
    conversations.release("sess")
    pool.report_success(token)
    lease.release()


def measure(state: SharedState, requests: int) -> tuple[float, int]:
    """Median microseconds of one request's state calls, and the round trips to Redis of one of them."""
    from tests.fakes.redis_calls import watching
    pool, conversations = state.pool(lambda token: 1), state.conversations("deepseek-web")
    token = Token("deepseek-web", "bench")
    conversations.created("sess", token)
    times = []
    for n in range(requests):
        started = time.perf_counter()
        one_request(pool, conversations, token, n)
        times.append(time.perf_counter() - started)
    with watching() as calls:
        one_request(pool, conversations, token, requests)
    return statistics.median(times) * 1e6, calls.round_trips


def run(requests: int = 2000) -> dict:
    """Both stores in one run; Redis is a local redis-server over loopback TCP (skipped if it is missing)."""
    from bench.contestants import free_port
    port = free_port()
    memory, _ = measure(SharedState(Settings()), requests)
    if shutil.which("redis-server") is None:
        return {"memory_us": memory, "redis_us": None, "round_trips": None}
    server = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
                              stdout=subprocess.DEVNULL)
    try:
        from services.store.redis import connect
        url = f"redis://127.0.0.1:{port}/0"
        client = connect(url)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                client.ping()
                break
            except Exception:  # not listening yet
                time.sleep(0.02)
        client.set(LEASES_READY_KEY, 0)  # a bench's empty Redis holds no slot: no first-start wait
        redis_cost, round_trips = measure(SharedState(Settings(redis_url=url), client), requests)
    finally:
        server.terminate()
        server.wait()
    return {"requests": requests, "memory_us": memory, "redis_us": redis_cost, "round_trips": round_trips}


def run_apart(requests: int) -> dict:
    """run()'s figures from a process of its own (`python -m bench` is gevent-patched; the figure before was
    taken without)."""
    done = subprocess.run([sys.executable, "-m", "bench.store_cost", "--json", str(requests)], capture_output=True,
                          text=True, check=True, timeout=600)
    return json.loads(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    figures = run(int(sys.argv[2]) if sys.argv[1:2] == ["--json"] and len(sys.argv) > 2 else 2000)
    if sys.argv[1:2] == ["--json"]:   # for `python -m bench`, which runs this outside its gevent-patched process
        print(json.dumps(figures))
        sys.exit()
    print(f"state calls per web request, median of 2000: memory {figures['memory_us']:.0f} us, "
          f"redis {figures['redis_us']:.0f} us (+{figures['redis_us'] - figures['memory_us']:.0f} us, "
          f"{figures['round_trips']} round trips)")

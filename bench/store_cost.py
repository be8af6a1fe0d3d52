"""What the shared store costs per request: a web request's state calls on the memory store vs a real Redis."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import time

from services.credentials import Token
from services.providers.deepseek_web.conversations import Turn
from services.settings import Settings
from services.store.state import SharedState

HISTORY = [{"role": "user", "content": "hello"}]


def one_request(pool, conversations, token: Token, n: int) -> None:
    """The state calls one continued web request makes: look-up, lease, session busy/idle, remember, release."""
    resent = HISTORY + [{"role": "assistant", "content": f"a{n}"}, {"role": "user", "content": "more"}]
    conversations.match(resent)
    lease = pool.acquire([token], timeout=1, ticket=pool.ticket())
    conversations.acquire("sess")
    conversations.remember(resent, f"b{n}", Turn("sess", n, token))
    conversations.release("sess")
    pool.report_success(token)
    lease.release()


def measure(state: SharedState, requests: int) -> float:
    """Median microseconds of one request's state calls."""
    pool, conversations = state.pool(lambda token: 1), state.conversations("deepseek-web")
    token = Token("deepseek-web", "bench")
    conversations.created("sess", token)
    times = []
    for n in range(requests):
        started = time.perf_counter()
        one_request(pool, conversations, token, n)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


def run(requests: int = 2000, port: int = 16399) -> dict:
    """Both stores in one run; Redis is a local redis-server over loopback TCP (skipped if it is missing)."""
    memory = measure(SharedState(Settings()), requests)
    if shutil.which("redis-server") is None:
        return {"memory_us": memory, "redis_us": None}
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
        client.set("freeseek:leases-ready", 0)  # a bench's empty Redis holds no slot: no first-start wait
        redis_cost = measure(SharedState(Settings(redis_url=url), client), requests)
    finally:
        server.terminate()
        server.wait()
    return {"memory_us": memory, "redis_us": redis_cost}


if __name__ == "__main__":
    figures = run()
    print(f"state calls per web request, median of 2000: memory {figures['memory_us']:.0f} us, "
          f"redis {figures['redis_us']:.0f} us (+{figures['redis_us'] - figures['memory_us']:.0f} us)")

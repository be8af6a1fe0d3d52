"""A worker's Redis connections stay within FREESEEK_REDIS_MAX_CONNECTIONS (plus its one pub/sub listener) however
many calls run at once; a call that finds them all busy for too long is a 503, not a hang."""

from __future__ import annotations

import threading

import pytest
import redis

from services.credentials import Token
from services.settings import ConfigError, Settings
from services.store import redis as redis_store
from services.store.redis import RedisHealth, RedisValues
from services.store.state import open_state

BOUND = 3


def connections(redis_url: str, name: str) -> int:
    """How many connections the store under test (its connections named `name`) holds open on Redis now."""
    observer = redis.Redis.from_url(redis_url)
    try:
        return sum(1 for client in observer.client_list() if client.get("name") == name)
    finally:
        observer.close()


def bounded_state(redis_url: str):
    """State as a worker opens it with FREESEEK_REDIS_MAX_CONNECTIONS=BOUND, its connections named for CLIENT LIST."""
    settings = Settings.from_env({"FREESEEK_REDIS_URL": redis_url, "FREESEEK_REDIS_MAX_CONNECTIONS": str(BOUND),
                                  "FREESEEK_REDIS_LEASE_SECONDS": "30"})
    state = open_state(settings)
    state.client.connection_pool.connection_kwargs["client_name"] = "bounded-state"   # before the listener copies them
    return state


def test_many_concurrent_store_calls_share_the_bounded_connections_and_all_finish(redis_url, monkeypatch):
    monkeypatch.setattr(redis_store, "POOL_WAIT_SECONDS", 60.0)   # completion is the point here, not the 503
    state = bounded_state(redis_url)
    pool = state.pool(lambda token: 1)
    values, health = RedisValues(state.client, "freeseek:test:", 60), RedisHealth(state.client)
    held = pool.acquire([Token("deepseek-web", "busy-account")], timeout=1)
    waiter_done = threading.Event()

    def wait_for_the_busy_account():   # keeps the pub/sub listener subscribed meanwhile
        pool.acquire([Token("deepseek-web", "busy-account")], timeout=60).release()
        waiter_done.set()
    threading.Thread(target=wait_for_the_busy_account, daemon=True).start()
    assert pool.leases.bell.subscribed.wait(10)

    workers, start, finished, errors = 40, threading.Barrier(40), [], []

    def work(n: int) -> None:
        try:
            start.wait()
            token = Token("deepseek-web", f"account-{n}")
            for i in range(10):
                pool.acquire([token], timeout=30).release()
                values.put(f"{n}:{i}", {"n": n})
                assert values.get(f"{n}:{i}") == {"n": n}
                health.get(f"{n}")
            finished.append(n)
        except Exception as exc:   # reported below, with the others
            errors.append(exc)
    threads = [threading.Thread(target=work, args=(n,), daemon=True) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors and len(finished) == workers, errors[:3]
    # The pool keeps what it opened: what is open now is the most it ever had.
    assert connections(redis_url, "bounded-state") <= BOUND + 1
    held.release()
    assert waiter_done.wait(20)


def test_a_call_that_finds_every_connection_busy_too_long_is_a_503(make_app, redis_url, monkeypatch):
    monkeypatch.setattr(redis_store, "POOL_WAIT_SECONDS", 0.3)
    app = make_app(FREESEEK_REDIS_URL=redis_url, FREESEEK_REDIS_MAX_CONNECTIONS="1")
    client = app.test_client()

    def ask():
        return client.post("/v1/chat/completions", headers={"Authorization": "Bearer sk-pool-wait"},
                           json={"model": "deepseek-chat", "messages": [{"role": "user", "content": "hi"}]})
    assert ask().status_code == 200
    only = app.extensions["freeseek"].state.client.connection_pool
    taken = only.get_connection()   # the worker's one connection, busy elsewhere
    try:
        response = ask()
        assert response.status_code == 503, response.get_data(as_text=True)
        assert response.json["error"]["code"] == "store_unavailable"
        assert response.headers["Retry-After"]
    finally:
        only.release(taken)
    assert ask().status_code == 200   # the connection back, requests are served again


def test_a_listening_waiter_leaves_every_connection_to_the_other_calls(redis_url, monkeypatch):
    monkeypatch.setattr(redis_store, "POOL_WAIT_SECONDS", 0.3)
    settings = Settings.from_env({"FREESEEK_REDIS_URL": redis_url, "FREESEEK_REDIS_MAX_CONNECTIONS": "1"})
    state = open_state(settings)
    pool = state.pool(lambda token: 1)
    busy = Token("deepseek-web", "listened-account")
    held = pool.acquire([busy], timeout=1)
    waited = threading.Event()
    threading.Thread(target=lambda: (pool.acquire([busy], timeout=60).release(), waited.set()), daemon=True).start()
    assert pool.leases.bell.subscribed.wait(10)
    values = RedisValues(state.client, "freeseek:test:", 60)
    values.put("k", {"v": 1})
    assert values.get("k") == {"v": 1}   # the one pooled connection is free: no 503 while the listener listens
    held.release()
    assert waited.wait(20)


def test_concurrent_requests_stay_within_the_bound(make_app, redis_url, monkeypatch):
    monkeypatch.setattr(redis_store, "POOL_WAIT_SECONDS", 60.0)
    app = make_app(FREESEEK_REDIS_URL=redis_url, FREESEEK_REDIS_MAX_CONNECTIONS=str(BOUND))
    shared = app.extensions["freeseek"].state.client.connection_pool
    shared.connection_kwargs["client_name"] = "bounded-app"
    shared.disconnect()   # what app start-up opened reconnects under the name
    start, statuses = threading.Barrier(24), []

    def ask(n: int) -> None:
        start.wait()
        statuses.append(app.test_client().post(
            "/v1/chat/completions", headers={"Authorization": f"Bearer sk-many-{n}"},
            json={"model": "deepseek-chat", "messages": [{"role": "user", "content": "hi"}]}).status_code)
    threads = [threading.Thread(target=ask, args=(n,), daemon=True) for n in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert statuses == [200] * 24
    assert connections(redis_url, "bounded-app") <= BOUND


@pytest.mark.parametrize("value", ["0", "-3"])
def test_a_redis_connection_bound_below_one_is_refused_at_start_up_by_name(value):
    with pytest.raises(ConfigError, match="FREESEEK_REDIS_MAX_CONNECTIONS"):
        Settings.from_env({"FREESEEK_REDIS_MAX_CONNECTIONS": value})

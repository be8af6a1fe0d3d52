"""One contract for shared state, run against both backends: this worker's memory and a real Redis."""

from __future__ import annotations

import threading
import time

import pytest

from services.credentials import Token
from services.errors import RateLimited
from services.pool import Health
from services.providers.deepseek_web.conversations import Turn
from services.settings import Settings
from services.store import StoreUnavailable
from services.store.state import SharedState

A, B = Token("deepseek-web", "secret-a"), Token("deepseek-web", "secret-b")
HISTORY = [{"role": "user", "content": "hi"}]


def until(condition, seconds: float = 5.0) -> bool:
    """Poll a condition that a clock makes true (expiry has no event to wait on)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_tool_memory_recalls_text_behind_call_ids_and_session_tools(state):
    memory = state.recollection("deepseek-web")
    memory.remember_answer(["call_1", "call_2"], "I will call two tools")
    memory.session_saw("sess-1", "abc")
    assert memory.recall(["call_1", "call_2"]) == "I will call two tools"
    assert memory.recall(["call_9"]) is None
    assert memory.session_tools("sess-1") == "abc" and memory.session_tools("other") is None


def test_health_is_remembered_and_a_success_forgets_it(state):
    pool = state.pool(lambda token: 1)
    pool.report_failure(A, _cooldown())
    assert pool.rest_left(A) > 25 and pool.view([A])[0]["state"] == "cooldown"
    pool.report_success(A)
    assert pool.rest_left(A) == 0 and pool.view([A])[0]["state"] == "ok"


def _cooldown():
    error = RateLimited("tok: rate limited", retry_after=30)
    error.token_state = "cooldown"
    return error


def test_a_conversation_continues_on_its_owner_until_its_session_is_collected(state):
    conversations = state.conversations("deepseek-web")
    conversations.created("sess-1", A)
    conversations.remember(HISTORY, "hello", Turn("sess-1", 2, A))
    resent = HISTORY + [{"role": "assistant", "content": "hello"}, {"role": "user", "content": "more"}]
    assert conversations.match(resent) == Turn("sess-1", 2, A)
    assert conversations.owner("sess-1") == A and conversations.owner("nope") is None
    assert conversations.tracked() == 1
    conversations.acquire("sess-1")
    time.sleep(0.4)  # longer than the idle time: a busy session is still not collected
    assert conversations.pop_idle() == []
    conversations.release("sess-1")
    collected = []
    assert until(lambda: collected.extend(conversations.pop_idle()) or collected)
    assert [(s.id, s.token) for s in collected] == [("sess-1", A)]
    assert conversations.match(resent) is None and conversations.tracked() == 0


def test_every_idle_session_is_collected_at_once_up_to_the_limit_asked(state):
    # A provider of its own: an earlier test's web-chat janitor, still running on the same Redis, takes
    # deepseek-web's idle sessions.
    conversations = state.conversations("contract-web")
    for n in range(250):   # more than one Redis script takes (100): none may wait for the janitor's next period
        conversations.created(f"many-{n}", A)
    time.sleep(0.4)  # longer than the idle time: every one is idle now
    first = conversations.pop_idle(120)
    rest = conversations.pop_idle()
    assert len(first) == 120 and len(rest) == 130
    assert {s.id for s in first} | {s.id for s in rest} == {f"many-{n}" for n in range(250)}
    assert conversations.pop_idle() == [] and conversations.tracked() == 0


def test_one_answer_at_a_time_per_account_and_the_next_waiter_gets_it(state):
    pool = state.pool(lambda token: 1)
    lease = pool.acquire([A], timeout=1)
    with pytest.raises(RateLimited):
        pool.acquire([A], timeout=0.2)
    got = []
    waiter = threading.Thread(target=lambda: got.append(pool.acquire([A], timeout=3)))
    waiter.start()
    time.sleep(0.1)
    lease.release()
    waiter.join()
    assert got[0].token == A
    assert pool.in_flight(A) == 1
    got[0].release()
    assert pool.in_flight(A) == 0


def test_the_least_busy_account_is_leased(state):
    pool = state.pool(lambda token: 2)
    first = pool.acquire([A, B], timeout=1)
    second = pool.acquire([A, B], timeout=1)
    assert {first.token, second.token} == {A, B}
    first.release()
    second.release()


def test_waiters_are_served_in_arrival_order(state):
    pool = state.pool(lambda token: 1)
    lease = pool.acquire([A], timeout=1)
    served: list[str] = []

    def wait(name: str, ticket: int) -> None:
        got = pool.acquire([A], 5, None, ticket)
        served.append(name)
        got.release()
    # Tickets taken in this order; the threads start in the opposite one.
    tickets = {name: pool.ticket() for name in ("first", "second", "third")}
    threads = [threading.Thread(target=wait, args=(name, tickets[name])) for name in ("third", "second", "first")]
    for thread in threads:
        thread.start()
    time.sleep(0.3)  # every waiter has queued
    lease.release()
    for thread in threads:
        thread.join()
    assert served == ["first", "second", "third"]


def test_pools_of_two_processes_share_leases_and_a_dead_holders_lease_expires(redis_url):
    from services.store.redis import connect
    settings = Settings.from_env({"FREESEEK_REDIS_URL": redis_url, "FREESEEK_REDIS_LEASE_SECONDS": "1"})
    one, two = (SharedState(settings, connect(redis_url)).pool(lambda token: 1) for _ in range(2))
    lease = one.acquire([A], timeout=1)
    with pytest.raises(RateLimited):
        two.acquire([A], timeout=0.3)
    one.leases._held.clear()  # the holder dies: nobody renews its lease
    started = time.monotonic()
    two.acquire([A], timeout=10).release()  # without expiry: RateLimited after 10 s
    assert lease.token == A and time.monotonic() - started < 10


def test_a_lease_held_longer_than_its_lifetime_is_renewed(redis_url):
    from services.store.redis import connect
    # Lifetimes long enough that a loaded machine's renewer (every third of one) is never late by two thirds.
    settings = Settings.from_env({"FREESEEK_REDIS_URL": redis_url, "FREESEEK_REDIS_LEASE_SECONDS": "2"})
    one, two = (SharedState(settings, connect(redis_url)).pool(lambda token: 1) for _ in range(2))
    lease = one.acquire([A], timeout=5)
    with pytest.raises(RateLimited):
        two.acquire([A], timeout=6)  # three lifetimes: the renewer kept it
    lease.release()
    two.acquire([A], timeout=5).release()


def test_redis_gone_is_a_prompt_503_not_a_hang(redis_server):
    from services.store.redis import connect
    dead_url = f"redis://127.0.0.1:{redis_server.port + 1 if redis_server.port < 65535 else 1}/0"
    settings = Settings.from_env({"FREESEEK_REDIS_URL": dead_url, "FREESEEK_STATE_SECRET": "s" * 32})
    pool = SharedState(settings, connect(dead_url)).pool(lambda token: 1)
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as caught:
        pool.acquire([A], timeout=10)
    assert caught.value.status == 503 and "FREESEEK_REDIS_URL" in caught.value.message
    assert time.monotonic() - started < 5
    assert Health() == pool._store.get(pool._key(A))

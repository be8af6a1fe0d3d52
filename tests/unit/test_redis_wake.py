"""Waiters on Redis are woken by the release, in whichever process it happens, not by their poll; a waiter
still keeps its deadline and its cancellation when no release comes."""

from __future__ import annotations

import threading

import pytest

from services.credentials import Token
from services.errors import RateLimited
from services.settings import Settings
from services.store.redis import connect
from services.store.redis_leases import RedisLeases
from services.store.state import SharedState

A = Token("deepseek-web", "secret-wake")


@pytest.fixture
def slow_poll(monkeypatch):
    """A fallback poll far longer than any wait below: only a wake-up can grant in time."""
    monkeypatch.setattr(RedisLeases, "POLL_SECONDS", 60.0)


def pools(redis_url: str, n: int = 2) -> list:
    """Pools as separate processes would have them: each its own client and listener."""
    settings = Settings.from_env({"FREESEEK_REDIS_URL": redis_url, "FREESEEK_REDIS_LEASE_SECONDS": "30"})
    return [SharedState(settings, connect(redis_url)).pool(lambda token: 1) for _ in range(n)]


def wait_in_thread(pool, **kwargs) -> tuple[threading.Event, list]:
    """Acquire in a thread; the event is set once it returned a lease or raised."""
    done, outcome = threading.Event(), []

    def run():
        try:
            outcome.append(pool.acquire([A], **kwargs))
        except RateLimited as error:
            outcome.append(error)
        done.set()
    threading.Thread(target=run, daemon=True).start()
    return done, outcome


def test_a_release_in_one_process_grants_a_waiter_in_another_at_once(redis_url, slow_poll):
    one, two = pools(redis_url)
    held = one.acquire([A], timeout=1)
    done, outcome = wait_in_thread(two, timeout=50)
    assert two.leases.bell.subscribed.wait(10)   # the waiter queued and listens
    assert not done.is_set()
    held.release()
    assert done.wait(20), "the waiter was not woken by the release (its poll is 60 s)"
    assert outcome[0].token == A
    outcome[0].release()


def test_a_waiter_keeps_its_deadline_and_its_cancellation_without_a_release(redis_url, slow_poll):
    one, two = pools(redis_url)
    held = one.acquire([A], timeout=1)
    try:
        done, outcome = wait_in_thread(two, timeout=0.5)
        assert done.wait(20) and isinstance(outcome[0], RateLimited)
        assert outcome[0].code == "accounts_busy"
        cancelled = threading.Event()
        done, outcome = wait_in_thread(two, timeout=50, cancelled=cancelled)
        assert two.leases.bell.subscribed.wait(10)
        cancelled.set()
        assert done.wait(20) and isinstance(outcome[0], RateLimited)
    finally:
        held.release()
    two.acquire([A], timeout=1).release()   # the cancelled waiter left the queue


def test_a_success_sent_with_its_release_does_not_forget_a_later_failure(redis_url):
    from services.providers.failures import failure
    pool = pools(redis_url, 1)[0]
    pool._limit_for = lambda token: 2
    first, second = pool.acquire([A], timeout=1), pool.acquire([A], timeout=1)
    pool.report_success(A)      # the first answer worked; its release will say so
    pool.report_failure(A, failure(RateLimited("slow down", retry_after=30), token_state="cooldown", retryable=True))
    second.release()
    first.release()
    with pytest.raises(RateLimited, match="slow down"):   # still cooling down, for every worker
        pools(redis_url, 1)[0].acquire([A], timeout=1)


def test_a_successful_answer_on_a_paced_account_leaves_its_gap_in_place(redis_url):
    settings = Settings.from_env({"FREESEEK_REDIS_URL": redis_url, "FREESEEK_WEB_MIN_GAP_SECONDS": "60",
                                  "FREESEEK_WEB_GAP_JITTER_SECONDS": "0"})
    pool = SharedState(settings, connect(redis_url)).pool(lambda token: 1, paced=lambda token: True)
    lease = pool.acquire([A], timeout=1)
    lease.answer_sent()
    pool.report_success(A)   # the answer worked...
    lease.release()          # ...and ended: the account rests for its gap, seen by every worker
    other = SharedState(settings, connect(redis_url)).pool(lambda token: 1, paced=lambda token: True)
    assert other.view([A])[0]["state"] == "paced"
    with pytest.raises(RateLimited, match="FREESEEK_WEB_MIN_GAP_SECONDS"):
        other.acquire([A], timeout=1)

"""The token pool: least busy first, per-account limits, a fair wait, cooldowns and dead keys."""

from __future__ import annotations

import threading

import pytest

from services.credentials import Token
from services.errors import RateLimited, Unauthorized, UpstreamError
from services.pool import TokenPool
from services.providers.failures import failure

A, B = Token("deepseek-web", "a"), Token("deepseek-web", "b")


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_least_busy_token_is_chosen_and_ties_are_random():
    pool = TokenPool(limit_for=lambda t: 0)
    first = pool.acquire([A, B], timeout=1)
    second = pool.acquire([A, B], timeout=1)
    assert {first.token, second.token} == {A, B}
    seen = set()
    for _ in range(60):
        lease = TokenPool(limit_for=lambda t: 0).acquire([A, B], timeout=1)
        seen.add(lease.token)
    assert seen == {A, B}


def test_busy_account_makes_the_next_request_wait_in_arrival_order():
    pool = TokenPool(limit_for=lambda t: 1)
    holding = pool.acquire([A], timeout=1)
    order, started = [], []

    def wait(name):
        started.append(name)
        lease = pool.acquire([A], timeout=5)
        order.append(name)
        lease.release()

    threads = []
    for name in ("first", "second", "third"):
        thread = threading.Thread(target=wait, args=(name,))
        thread.start()
        threads.append(thread)
        while len(pool._waiters) < len(threads):  # the waiter is queued before the next one starts
            threading.Event().wait(0.001)
    holding.release()
    for thread in threads:
        thread.join(5)
    assert order == ["first", "second", "third"]


def test_a_waiter_is_not_blocked_by_one_ahead_that_needs_another_account():
    pool = TokenPool(limit_for=lambda t: 1)
    pool.acquire([A], timeout=1)
    blocked = threading.Thread(target=lambda: pytest.raises(RateLimited, pool.acquire, [A], 0.5))
    blocked.start()
    lease = pool.acquire([B], timeout=0.2)  # B is free: no need to queue behind the request for A
    assert lease.token == B
    blocked.join()


def test_queue_timeout_gives_429_with_retry_after():
    pool = TokenPool(limit_for=lambda t: 1)
    pool.acquire([A], timeout=1)
    with pytest.raises(RateLimited) as caught:
        pool.acquire([A], timeout=0.05)
    assert caught.value.retry_after and "FREESEEK_QUEUE_TIMEOUT" in caught.value.message


def test_cancelled_wait_returns_at_once():
    pool = TokenPool(limit_for=lambda t: 1)
    pool.acquire([A], timeout=1)
    cancelled = threading.Event()
    cancelled.set()
    with pytest.raises(RateLimited):
        pool.acquire([A], timeout=60, cancelled=cancelled)


def test_dead_and_cooling_tokens_are_skipped_then_return():
    clock = Clock()
    pool = TokenPool(limit_for=lambda t: 0, clock=clock)
    pool.report_failure(A, failure(Unauthorized("dead"), token_state="dead", retryable=True))
    assert all(pool.acquire([A, B], timeout=1).token == B for _ in range(5))
    with pytest.raises(Unauthorized):
        pool.acquire([A], timeout=1)
    pool.report_failure(B, failure(RateLimited("slow down", retry_after=30), token_state="cooldown", retryable=True))
    with pytest.raises(RateLimited) as caught:
        pool.acquire([B], timeout=1)
    assert caught.value.retry_after == pytest.approx(30)
    clock.now += 31
    assert pool.acquire([B], timeout=1).token == B
    clock.now += 600
    assert pool.acquire([A], timeout=1).token == A


def test_rate_limits_without_a_hint_back_off_exponentially():
    clock = Clock()
    pool = TokenPool(limit_for=lambda t: 0, clock=clock)
    waits = []
    for _ in range(6):
        pool.report_failure(A, failure(RateLimited("429"), token_state="cooldown", retryable=True))
        with pytest.raises(RateLimited) as caught:
            pool.acquire([A], timeout=1)
        waits.append(round(caught.value.retry_after))
    assert waits == [5, 10, 20, 40, 60, 60]
    pool.report_success(A)
    assert pool.acquire([A], timeout=1).token == A


def test_transient_failures_rest_the_token_briefly():
    clock = Clock()
    pool = TokenPool(limit_for=lambda t: 0, clock=clock)
    pool.report_failure(A, failure(UpstreamError("500"), token_state="rest", retryable=True))
    with pytest.raises(RateLimited):
        pool.acquire([A], timeout=1)
    clock.now += 5
    assert pool.acquire([A], timeout=1).token == A

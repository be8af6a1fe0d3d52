"""The token pool: least busy first, per-account limits, a fair wait, cooldowns and dead keys."""

from __future__ import annotations

import threading

import pytest

from services.credentials import Token
from services.errors import Forbidden, RateLimited, Unauthorized, UpstreamError
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
    pool.report_failure(A, failure(UpstreamError("deepseek-web: could not connect."), token_state="rest",
                                   retryable=True))
    with pytest.raises(UpstreamError) as caught:  # the cause itself, not a generic "cooling down"
        pool.acquire([A], timeout=1)
    assert "could not connect" in caught.value.message and "rests 5 s" in caught.value.message
    clock.now += 5
    assert pool.acquire([A], timeout=1).token == A


def muted(seconds: float):
    return failure(Forbidden("deepseek-web: account tok:x is muted until 2026-12-02 10:00 UTC.",
                             retry_after=seconds), token_state="cooldown", retryable=True)


def test_a_muted_only_account_is_refused_with_its_own_403_when_the_mute_outlasts_the_queue():
    pool = TokenPool(limit_for=lambda t: 1)
    pool.report_failure(A, muted(100))
    with pytest.raises(Forbidden) as caught:
        pool.acquire([A], timeout=3)
    assert caught.value.status == 403 and "muted until 2026-12-02 10:00 UTC" in caught.value.message
    assert caught.value.retry_after == pytest.approx(100, abs=1)


def test_a_mute_shorter_than_the_queue_timeout_is_waited_out():
    pool = TokenPool(limit_for=lambda t: 1)
    pool.report_failure(A, muted(0.3))
    assert pool.acquire([A], timeout=3).token == A


def test_a_banned_account_is_refused_with_its_own_403():
    pool = TokenPool(limit_for=lambda t: 1)
    pool.report_failure(A, failure(Forbidden("deepseek-web: account tok:x is banned."), token_state="dead",
                                   retryable=True))
    with pytest.raises(Forbidden) as caught:
        pool.acquire([A], timeout=3)
    assert "banned" in caught.value.message and "/token/check" in caught.value.message


def test_queued_requests_wait_out_a_cooldown_instead_of_failing():
    pool = TokenPool(limit_for=lambda t: 1)
    holding = pool.acquire([A], timeout=1)
    got = []
    waiter = threading.Thread(target=lambda: got.append(pool.acquire([A], timeout=5).token))
    waiter.start()
    while not pool._waiters:
        threading.Event().wait(0.001)
    pool.report_failure(A, failure(RateLimited("too frequent", retry_after=0.3), token_state="cooldown",
                                   retryable=True))
    holding.release()
    waiter.join(5)
    assert got == [A]


def test_a_retry_with_the_same_ticket_keeps_its_place_in_the_queue():
    pool = TokenPool(limit_for=lambda t: 1)
    first_ticket = pool.ticket()
    holding = pool.acquire([A], timeout=1, ticket=first_ticket)
    order = []

    def wait(name, ticket=None):
        lease = pool.acquire([A], timeout=5, ticket=ticket)
        order.append(name)
        lease.release()
    later = threading.Thread(target=wait, args=("later",))
    later.start()
    while len(pool._waiters) < 1:
        threading.Event().wait(0.001)
    retry = threading.Thread(target=wait, args=("retry", first_ticket))  # arrives second, queued first
    retry.start()
    while len(pool._waiters) < 2:
        threading.Event().wait(0.001)
    holding.release()
    later.join(5)
    retry.join(5)
    assert order == ["retry", "later"]

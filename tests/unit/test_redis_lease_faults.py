"""The shared pool when Redis misbehaves: stalled, out of reach longer than a lease, or refusing announcements;
and waiters woken at once whenever a slot is left for them, never by their slow poll."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

import pytest
import redis

from services.credentials import Token
from services.errors import RateLimited
from services.settings import Settings
from services.store import StoreUnavailable
from services.store.keys import LEASES_READY_KEY
from services.store.redis import connect
from services.store.redis_leases import RedisLeases
from services.store.state import SharedState, open_state

A = Token("deepseek-web", "secret-faults-a")
B = Token("deepseek-web", "secret-faults-b")
KEY = Token("deepseek", "sk-faults-no-limit")


@pytest.fixture
def slow_poll(monkeypatch):
    """A fallback poll far longer than any wait below: only a wake-up can grant in time."""
    monkeypatch.setattr(RedisLeases, "POLL_SECONDS", 60.0)


def pools(redis_url: str, n: int, limit: int, lease_seconds: float = 30) -> list:
    """Pools as separate processes would have them: each its own client and listener."""
    settings = Settings.from_env({"FREESEEK_REDIS_URL": redis_url,
                                  "FREESEEK_REDIS_LEASE_SECONDS": str(lease_seconds)})
    return [SharedState(settings, connect(redis_url)).pool(lambda token: limit) for _ in range(n)]


def in_thread(call) -> tuple[threading.Event, list]:
    """Run call in a thread; the event is set once it returned or raised (the outcome is either)."""
    done, outcome = threading.Event(), []

    def run():
        try:
            outcome.append(call())
        except (RateLimited, StoreUnavailable) as error:
            outcome.append(error)
        done.set()
    threading.Thread(target=run, daemon=True).start()
    return done, outcome


def until(condition, seconds: float = 20) -> bool:
    """Whether condition came true within seconds (a state in Redis or a log line: nothing to wait on)."""
    end = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


class Freezer:
    """Freezes the test's Redis (a hung host, a blackholed network) and thaws it."""

    def __init__(self, pid: int):
        self.pid, self.frozen = pid, False

    def stop(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)
        self.frozen = True

    def resume(self) -> None:
        if self.frozen:
            os.kill(self.pid, signal.SIGCONT)
            self.frozen = False


@pytest.fixture
def freezer(redis_server):
    """The test's Redis, frozen on demand and thawed at the end whatever happens."""
    freezer = Freezer(redis_server.process.pid)
    yield freezer
    freezer.resume()


def test_a_stalled_redis_answers_new_requests_with_a_prompt_503_while_releases_hang(redis_url, freezer):
    pool = pools(redis_url, 1, limit=0)[0]
    tokens = [Token("deepseek", f"sk-stalled-{i}") for i in range(20)]
    leases = [pool.acquire([token], timeout=5) for token in tokens]
    freezer.stop()
    for lease in leases:   # twenty answers end at once; each release waits out the socket timeout (2 s)
        threading.Thread(target=lease.release, daemon=True).start()
    assert until(lambda: len(pool.leases._held) < len(tokens))   # a release is under way
    started = time.monotonic()
    done, outcome = in_thread(lambda: pool.acquire([KEY], timeout=5, ticket=pool.ticket()))
    # About the socket timeout; queued behind the twenty releases it took some 40 s.
    assert done.wait(15), "a new request was neither served nor refused while Redis stalled"
    assert isinstance(outcome[0], StoreUnavailable), outcome
    assert time.monotonic() - started < 15


def test_requests_queued_through_the_first_start_wait_all_start_when_it_ends(redis_url, slow_poll):
    one, two = pools(redis_url, 2, limit=0, lease_seconds=2)   # an API key: no limit
    redis.Redis.from_url(redis_url).delete(LEASES_READY_KEY)    # a first start, or Redis lost its data
    started = time.monotonic()
    waiting = [in_thread(lambda pool=pool: pool.acquire([KEY], timeout=50)) for pool in (one, two) * 6]
    for done, outcome in waiting:
        assert done.wait(25), "a request stayed queued after the 2 s wait ended (its poll is 30-60 s)"
        assert outcome[0].token == KEY
    assert time.monotonic() - started < 25
    for _, outcome in waiting:
        outcome[0].release()


def test_a_slot_left_after_a_grant_wakes_the_next_waiter_at_once(redis_url, slow_poll):
    owner, ahead, behind = pools(redis_url, 3, limit=2)
    first, second = owner.acquire([A], timeout=5), owner.acquire([A], timeout=5)
    # A request in another process queues first (both slots taken); both are freed while it looks away.
    ticket = ahead.ticket()
    assert ahead.leases.try_acquire([A], [2], "ahead", ticket)[0] is None
    first.release()
    second.release()
    asks, quiet = [], threading.Event()
    ask = behind.leases.try_acquire

    def counted(*args):
        answer = ask(*args)
        asks.append(answer)
        if len(asks) == 3:   # the first ask, again once listening, again when the listener subscribed
            quiet.set()
        return answer
    behind.leases.try_acquire = counted
    done, outcome = in_thread(lambda: behind.acquire([A], timeout=50))
    assert quiet.wait(20) and not done.is_set()   # queued behind "ahead": a slot is free but not its turn
    got = ahead.leases.try_acquire([A], [2], "ahead", ticket)[0]   # "ahead" takes a slot; one is left
    assert got is not None
    assert done.wait(20), "the request behind was not woken though a slot was left (its poll is 30-60 s)"
    assert outcome[0].token == A
    outcome[0].release()
    ahead.leases.release(got[1])


def test_an_outage_longer_than_a_lease_grants_no_account_twice(tmp_path):
    from tests.fakes.redis_server import RedisServer
    server = RedisServer(data_dir=str(tmp_path))   # keeps its data (and expiries) across a restart
    try:
        one, two = pools(server.url, 2, limit=1, lease_seconds=2)
        held = one.acquire([A], timeout=10)   # after the first start's wait, an answer streams on the account
        server.stop()
        time.sleep(2.5)   # out of reach longer than a lease: the lease expired while its answer streams on
        server.start()
        with pytest.raises(RateLimited):   # a new request waits: the account may still be answering
            two.acquire([A], timeout=3)    # past the one lease time of waiting after the outage
        assert one.in_flight(A) == 1       # the holder's lease is back, and only it
        held.release()
        two.acquire([A], timeout=10).release()
    finally:
        server.stop()


def test_a_lease_lost_to_another_request_is_not_put_back_over_the_limit(redis_url, caplog):
    one, two = pools(redis_url, 2, limit=1, lease_seconds=2)
    held = one.acquire([A], timeout=5)
    # Only this worker was cut off from Redis past its lease time; meanwhile another took the account.
    redis.Redis.from_url(redis_url).delete(one.leases.leases_key(one.leases.keys.token(A)))
    other = two.acquire([A], timeout=5)
    with caplog.at_level(logging.WARNING, logger="freeseek"):
        assert until(lambda: f"lease on {A.ref} was lost" in caplog.text), "no warning of the lost lease"
    assert two.in_flight(A) == 1   # the renewal did not make it two
    held.release()
    assert two.in_flight(A) == 1
    other.release()
    one.acquire([A], timeout=5).release()


def test_an_idle_gateway_serves_its_next_request_at_once(redis_url):
    pool = pools(redis_url, 1, limit=1, lease_seconds=6)[0]
    pool.acquire([A], timeout=5).release()
    # Idle past a lease time: the heartbeat (every 2 s; the marker lives 6 s), not a request, kept the marker.
    time.sleep(7)
    pool.acquire([A], timeout=0.5).release()


def test_a_redis_user_without_channels_still_leases_and_releases_cleanly(redis_server, redis_url, caplog):
    admin = redis.Redis.from_url(redis_url)
    admin.execute_command("ACL", "SETUSER", "gateway", "on", ">pw-not-logged", "~freeseek:*", "+@all",
                          "resetchannels")
    try:
        url = redis_url.replace("redis://", "redis://gateway:pw-not-logged@")
        settings = Settings.from_env({"FREESEEK_REDIS_URL": url, "FREESEEK_REDIS_LEASE_SECONDS": "30"})
        with caplog.at_level(logging.WARNING, logger="freeseek"):
            one = open_state(settings).pool(lambda token: 1)
        warned = caplog.text
        two = SharedState(settings, connect(url)).pool(lambda token: 1)
        first, second = one.acquire([A], timeout=5), one.acquire([B], timeout=5)
        done, outcome = in_thread(lambda: two.acquire([A, B], timeout=20))   # queued on both
        assert until(lambda: admin.zcard("freeseek:{pool}:alive") == 1)
        first.release()
        assert done.wait(25) and not isinstance(outcome[0], Exception), outcome   # found by its poll
        assert outcome[0].token == A
        outcome[0].release()
        assert one.in_flight(A) == 0   # no lease left behind by a refused announcement
        second.release()
        # Said once at start-up, naming the permission (and never the password).
        assert "PUBLISH" in warned and "&freeseek:*" in warned and "pw-not-logged" not in warned
    finally:
        admin.execute_command("ACL", "DELUSER", "gateway")
        admin.close()

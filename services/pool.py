"""Choosing, leasing, cooling down and retiring tokens, with a fair wait when every account is busy."""

from __future__ import annotations

import itertools
import random
import threading
import time
from typing import Callable

from services.credentials import Token
from services.errors import GatewayError, RateLimited, restate, telling_rank
from services.providers.failures import failure
from services.store.health import Health, HealthStore, MemoryHealthStore  # noqa: F401 (their home for callers)
from services.store.keys import random_keys

DEAD_SECONDS = 600.0       # a rejected key is tried again after this long
REST_SECONDS = 5.0         # after a transient fault (5xx, timeout, connection error)
COOLDOWN_MIN, COOLDOWN_MAX = 5.0, 60.0
# A request that waited its whole budget for a busy account is told to come back after this long: when an
# answer ends is not known, and a retry queues again for as long as the first wait.
BUSY_RETRY_AFTER = 5
BUSY_WAIT_BOUNDS = "FREESEEK_QUEUE_TIMEOUT and, before the status is sent, FREESEEK_PRECOMMIT_SECONDS"


class Lease:
    """The right to send one request with a token; release it exactly once."""

    __slots__ = ("pool", "token", "_released", "sent")  # one of each per open stream

    def __init__(self, pool: "TokenPool", token: Token):
        self.pool, self.token, self._released = pool, token, False
        self.sent = False  # the answer's request went out: the account's pace counts it, and a gap follows

    def answer_sent(self) -> None:
        """The adapter is about to send the answer's request: count it against the account's budgets (raises
        a paced refusal, before anything is sent, when the account may no longer start one)."""
        if not self.sent:
            self.pool._answer_sent(self.token)
            self.sent = True

    def release(self) -> None:
        """Give the token's slot back and wake whoever waits for it."""
        if not self._released:
            self._released = True
            self.pool._release(self.token, self.sent)


class _Waiter:
    def __init__(self, tokens: list[Token], ticket: int):
        self.tokens, self.ticket, self.lease = tokens, ticket, None


class TokenPool:
    """Leases tokens: fewest in flight first, random among equals, FIFO when all are busy."""

    care = None  # web accounts' pace (services/pacing.py); the state that builds the pool sets it

    def __init__(self, limit_for: Callable[[Token], int], store: HealthStore | None = None,
                 clock: Callable[[], float] = time.monotonic, key: Callable[[Token], str] | None = None):
        self._limit_for = limit_for
        # Health is kept under the token's keyed hash: its short ref is for display and collides.
        self._key = key or random_keys().token
        self.choose: Callable[[list[Token]], Token] = random.choice  # tie-break among the least busy
        self._store = store or MemoryHealthStore(clock)
        self._clock = clock
        self._in_flight: dict[Token, int] = {}
        self._waiters: list[_Waiter] = []
        self._cond = threading.Condition()
        self._tickets = itertools.count()

    def ticket(self) -> int:
        """A place in the queue; a request that retries with the same ticket keeps its place."""
        return next(self._tickets)

    def acquire(self, tokens: list[Token], timeout: float, cancelled: threading.Event | None = None,
                ticket: int | None = None) -> Lease:
        """Lease one of the tokens, waiting up to `timeout` while they are busy or resting for less than that;
        refuse at once, restating each token's failure, when none can be ready in time."""
        with self._cond:
            deadline = self._clock() + timeout
            self._refuse_if_none_ready_by(tokens, deadline)
            waiter = _Waiter(tokens, self.ticket() if ticket is None else ticket)
            # Arrival order: a retrying request goes back to the place its ticket gives it.
            index = next((i for i, w in enumerate(self._waiters) if w.ticket > waiter.ticket), len(self._waiters))
            self._waiters.insert(index, waiter)
            self._dispatch()
            try:
                while waiter.lease is None:
                    remaining = deadline - self._clock()
                    if remaining <= 0 or (cancelled is not None and cancelled.is_set()):
                        self._refuse_if_none_ready_by(tokens, self._clock())
                        raise RateLimited(
                            f"Every account for this request is busy (waited {timeout:.0f} s; "
                            f"{BUSY_WAIT_BOUNDS} bound the wait).", code="accounts_busy", retry_after=BUSY_RETRY_AFTER)
                    # Wake when a rest ends, and at least every second: requests get cancelled.
                    self._cond.wait(max(0.01, min(remaining, 1.0, self._next_ready(tokens) - self._clock())))
                    if waiter.lease is None:
                        self._refuse_if_none_ready_by(tokens, deadline)
                        self._dispatch()
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
            return waiter.lease

    def report_failure(self, token: Token, error: GatewayError) -> None:
        """Remember what a failure says about the token: dead, cooling down, or resting briefly."""
        state = getattr(error, "token_state", None)
        if state is None:
            return
        health = self._store.get(self._key(token))
        now = self._clock()
        cause = (type(error).__name__, error.message, error.code)
        if state == "dead":
            health = Health(now + DEAD_SECONDS, "dead", health.strikes, error.status, *cause)
        elif state == "cooldown":
            strikes = health.strikes + 1
            wait = error.retry_after or min(COOLDOWN_MAX, COOLDOWN_MIN * 2 ** (strikes - 1))
            health = Health(now + wait, "cooldown", strikes, error.status, *cause)
        else:
            health = Health(now + REST_SECONDS, "rest", health.strikes, error.status, *cause)
        self._store.put(self._key(token), health)
        if self.care is not None:
            self.care.penalised(self._key(token), token, error)
        with self._cond:
            self._cond.notify_all()  # waiters re-judge whether their tokens can be ready in time

    def report_success(self, token: Token) -> None:
        """Forget past failures of a token that just worked."""
        if self._store.get(self._key(token)).state != "ok":
            self._store.put(self._key(token), Health())

    def mark_live(self, token: Token) -> None:
        """Re-enable a token that a key check found live."""
        self._store.put(self._key(token), Health())

    def in_flight(self, token: Token) -> int:
        """How many requests use the token right now."""
        return self._in_flight.get(token, 0)

    def _release(self, token: Token, sent: bool = True) -> None:
        if sent:
            self._answer_ended(token)  # a try that sent nothing needs no pause after it
        with self._cond:
            self._in_flight[token] -= 1
            if not self._in_flight[token]:
                del self._in_flight[token]
            self._dispatch()

    def _usable(self, token: Token) -> bool:
        return self._store.get(self._key(token)).unusable_until <= self._clock()

    leases_at_once = True  # lease_now answers from this process's own state, without waiting

    def lease_now(self, tokens: list[Token]) -> Lease | None:
        """Lease one of the tokens when that takes no wait and nobody queues ahead, else None (acquire waits)."""
        with self._cond:
            return None if self._waiters else self._lease_free(tokens)

    def _lease_free(self, tokens: list[Token]) -> Lease | None:
        """A slot on the least busy usable token with one free (random among equals), or None."""
        free = [t for t in tokens if self._usable(t)
                and (not self._limit_for(t) or self.in_flight(t) < self._limit_for(t))]
        if not free:
            return None
        fewest = min(self.in_flight(t) for t in free)
        token = self.choose([t for t in free if self.in_flight(t) == fewest])
        if not self._admit(token):
            return self._lease_free(tokens)  # now resting like a cooldown: the others are tried
        self._in_flight[token] = self.in_flight(token) + 1
        return Lease(self, token)

    def _admit(self, token: Token) -> bool:
        """Whether the account's pace lets an answer start now; when not, it rests as a cooldown would."""
        hold = self.care.admit(self._key(token), token) if self.care is not None else None
        if hold is None or hold.until <= self._clock():
            return True
        self._hold(token, hold)
        return False

    def _answer_sent(self, token: Token) -> None:
        """Count the answer against the account's budgets, or refuse it (the account rests) before it is sent."""
        hold = self.care.started(self._key(token), token) if self.care is not None else None
        if hold is None or hold.until <= self._clock():
            return
        self._hold(token, hold)
        raise failure(restate(hold.cause, hold.message, hold.code, retry_after=hold.until - self._clock()),
                      token_state=None, retryable=True)

    def _answer_ended(self, token: Token, succeeded: bool = False) -> bool:
        """Start the account's gap after an answer, unless a longer rest already holds it back; when it
        `succeeded`, its past failures are forgotten first (as report_success does). True when that forgetting
        is still to be done by the caller (no gap was written)."""
        hold = self.care.ended(self._key(token), token) if self.care is not None else None
        if hold is None:
            return succeeded
        health = self._store.get(self._key(token))
        if succeeded and health.state != "ok":
            health = Health()
        if health.unusable_until < hold.until:
            self._hold(token, hold, health)
        return False

    def _hold(self, token: Token, hold, health: Health | None = None) -> None:
        """Rest the account until the pace allows it, keeping its count of rate limits (`health`: as just read)."""
        strikes = (health or self._store.get(self._key(token))).strikes
        self._store.put(self._key(token), Health(hold.until, "paced", strikes, hold.status, hold.cause, hold.message,
                                          hold.code))

    def _dispatch(self) -> None:
        """Hand free slots to waiters in arrival order (a waiter skips only tokens it cannot use)."""
        granted = False
        for waiter in list(self._waiters):
            if waiter.lease is not None:
                continue
            waiter.lease = self._lease_free(waiter.tokens)
            if waiter.lease is None:
                continue
            self._waiters.remove(waiter)
            granted = True
        if granted:
            self._cond.notify_all()

    def rest_left(self, token: Token) -> float:
        """Seconds until the token may be used again (0 when it may now)."""
        return max(0.0, self._store.get(self._key(token)).unusable_until - self._clock())

    def _next_ready(self, tokens: list[Token], seen: dict[Token, Health] | None = None) -> float:
        """When the first of the tokens that are resting becomes usable (far away when none rests); `seen`: their
        health as just read, else it is read from the store."""
        now = self._clock()
        ends = [u for u in (self._health(t, seen).unusable_until for t in tokens) if u > now]
        return min(ends, default=now + 3600.0)

    def _health(self, token: Token, seen: dict[Token, Health] | None) -> Health:
        """The token's health as just read (`seen`), else from the store."""
        return seen[token] if seen is not None and token in seen else self._store.get(self._key(token))

    def _refuse_if_none_ready_by(self, tokens: list[Token], deadline: float,
                                 seen: dict[Token, Health] | None = None) -> None:
        """Refuse when no token can be used by the deadline: dead ones never, resting ones too late."""
        for t in tokens:
            health = self._health(t, seen)
            if health.unusable_until <= self._clock() or (health.state != "dead"
                                                          and health.unusable_until < deadline):
                return
        raise self.refusal(tokens)

    def refusal(self, tokens: list[Token]) -> GatewayError:
        """The error for tokens that are all resting: each one's own failure, restated with its rest time."""
        errors = [self._restated(t) for t in tokens]
        if len(errors) == 1:
            return errors[0]
        waits = [e.retry_after for e in errors if e.retry_after]
        best = min(errors, key=telling_rank)
        return restate(type(best).__name__, "No token for this request can be used now: "
                       + "; ".join(e.message for e in errors), best.code, retry_after=min(waits) if waits else None)

    def _restated(self, token: Token) -> GatewayError:
        health = self._store.get(self._key(token))
        left = max(0.0, health.unusable_until - self._clock())
        if health.state == "dead":
            when = f"it is tried again in {left:.0f} s or after /token/check"
        else:
            when = f"it rests {left:.0f} s more"
        message = health.message or f"{token.provider} failed with HTTP {health.status}."
        if token.ref not in message:
            message = f"{token.ref} ({token.provider}): {message}"
        return restate(health.cause or "RateLimited", f"{message} ({when}.)", health.code,
                       retry_after=None if health.state == "dead" else left)

    def view(self, tokens: list[Token]) -> list[dict]:
        """Describe each token's health for people and metrics: short hash, provider, state, load, never a secret."""
        now, wall = self._clock(), time.time()
        rows = []
        for token in tokens:
            health = self._store.get(self._key(token))
            resting = health.unusable_until > now
            rows.append({"token": token.ref, "provider": token.provider,
                         "state": health.state if resting else "ok",
                         "in_flight": self.in_flight(token), "limit": self._limit_for(token),
                         "until": wall + health.unusable_until - now if resting else None,
                         "last_status": health.status or None, "last_error": health.cause or None})
            care = self.care.view(self._key(token), token) if self.care is not None else None
            if care is not None:
                rows[-1]["care"] = care
        return rows

"""Choosing, leasing, cooling down and retiring tokens, with a fair wait when every account is busy."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from typing import Callable, Protocol

from services.credentials import Token
from services.errors import GatewayError, PaymentRequired, RateLimited, Unauthorized

DEAD_SECONDS = 600.0       # a rejected key is tried again after this long
REST_SECONDS = 5.0         # after a transient fault (5xx, timeout, connection error)
COOLDOWN_MIN, COOLDOWN_MAX = 5.0, 60.0


@dataclass
class Health:
    """What the gateway remembers about one token between requests."""

    unusable_until: float = 0.0
    state: str = "ok"           # "ok", "dead", "cooldown" or "rest"
    strikes: int = 0            # consecutive rate limits, for exponential cooldown
    status: int = 0             # HTTP status of the failure that made it unusable


class HealthStore(Protocol):
    """Where token health lives; in memory by default, one small interface to swap for a shared store."""

    def get(self, ref: str) -> Health: ...

    def put(self, ref: str, health: Health) -> None: ...


class MemoryHealthStore:
    """Token health in this worker's memory."""

    def __init__(self) -> None:
        self._health: dict[str, Health] = {}

    def get(self, ref: str) -> Health:
        """Return the token's health (healthy when unknown)."""
        return self._health.get(ref) or Health()

    def put(self, ref: str, health: Health) -> None:
        """Remember the token's health."""
        self._health[ref] = health


class Lease:
    """The right to send one request with a token; release it exactly once."""

    def __init__(self, pool: "TokenPool", token: Token):
        self.pool, self.token, self._released = pool, token, False

    def release(self) -> None:
        """Give the token's slot back and wake whoever waits for it."""
        if not self._released:
            self._released = True
            self.pool._release(self.token)


class _Waiter:
    def __init__(self, tokens: list[Token]):
        self.tokens, self.lease = tokens, None


class TokenPool:
    """Leases tokens: fewest in flight first, random among equals, FIFO when all are busy."""

    def __init__(self, limit_for: Callable[[Token], int], store: HealthStore | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self._limit_for = limit_for
        self.choose: Callable[[list[Token]], Token] = random.choice  # tie-break among the least busy
        self._store = store or MemoryHealthStore()
        self._clock = clock
        self._in_flight: dict[Token, int] = {}
        self._waiters: list[_Waiter] = []
        self._cond = threading.Condition()

    def acquire(self, tokens: list[Token], timeout: float, cancelled: threading.Event | None = None) -> Lease:
        """Lease one of the tokens, waiting up to `timeout` while they are all busy."""
        with self._cond:
            self._raise_if_none_usable(tokens)
            waiter = _Waiter(tokens)
            self._waiters.append(waiter)
            self._dispatch()
            deadline = self._clock() + timeout
            try:
                while waiter.lease is None:
                    remaining = deadline - self._clock()
                    if remaining <= 0 or (cancelled is not None and cancelled.is_set()):
                        raise RateLimited(
                            f"Every account for this request is busy (waited {timeout:g} s, "
                            "FREESEEK_QUEUE_TIMEOUT).", code="accounts_busy", retry_after=5)
                    # Wake at least every second: cooldowns expire and requests get cancelled.
                    self._cond.wait(min(remaining, 1.0))
                    if waiter.lease is None:
                        self._raise_if_none_usable(tokens)
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
        health = self._store.get(token.ref)
        now = self._clock()
        if state == "dead":
            health = Health(now + DEAD_SECONDS, "dead", health.strikes, error.status)
        elif state == "cooldown":
            strikes = health.strikes + 1
            wait = error.retry_after or min(COOLDOWN_MAX, COOLDOWN_MIN * 2 ** (strikes - 1))
            health = Health(now + wait, "cooldown", strikes, error.status)
        else:
            health = Health(now + REST_SECONDS, "rest", health.strikes, error.status)
        self._store.put(token.ref, health)

    def report_success(self, token: Token) -> None:
        """Forget past failures of a token that just worked."""
        if self._store.get(token.ref).state != "ok":
            self._store.put(token.ref, Health())

    def mark_live(self, token: Token) -> None:
        """Re-enable a token that a key check found live."""
        self._store.put(token.ref, Health())

    def in_flight(self, token: Token) -> int:
        """How many requests use the token right now."""
        return self._in_flight.get(token, 0)

    def _release(self, token: Token) -> None:
        with self._cond:
            self._in_flight[token] -= 1
            if not self._in_flight[token]:
                del self._in_flight[token]
            self._dispatch()

    def _usable(self, token: Token) -> bool:
        return self._store.get(token.ref).unusable_until <= self._clock()

    def _dispatch(self) -> None:
        """Hand free slots to waiters in arrival order (a waiter skips only tokens it cannot use)."""
        granted = False
        for waiter in list(self._waiters):
            if waiter.lease is not None:
                continue
            free = [t for t in waiter.tokens if self._usable(t)
                    and (not self._limit_for(t) or self.in_flight(t) < self._limit_for(t))]
            if not free:
                continue
            fewest = min(self.in_flight(t) for t in free)
            token = self.choose([t for t in free if self.in_flight(t) == fewest])
            self._in_flight[token] = self.in_flight(token) + 1
            waiter.lease = Lease(self, token)
            self._waiters.remove(waiter)
            granted = True
        if granted:
            self._cond.notify_all()

    def _raise_if_none_usable(self, tokens: list[Token]) -> None:
        """Fail at once when no token can become free by waiting: all dead or cooling down."""
        if any(self._usable(t) for t in tokens):
            return
        now = self._clock()
        healths = [(t, self._store.get(t.ref)) for t in tokens]
        cooling = [h.unusable_until - now for _, h in healths if h.state in ("cooldown", "rest")]
        if cooling:
            raise RateLimited("Every token for this request is cooling down after upstream failures.",
                              retry_after=min(cooling))
        token, health = healths[0]
        cls = PaymentRequired if health.status == 402 else Unauthorized
        raise cls(f"Token {token.ref} ({token.provider}) was rejected by its upstream recently; "
                  f"it is tried again {int(health.unusable_until - now)} s from now or after /token/check.")

    def view(self, tokens: list[Token]) -> list[dict]:
        """Describe each token's health for people and metrics: short hash, provider, state, load, never a secret."""
        now, wall = self._clock(), time.time()
        rows = []
        for token in tokens:
            health = self._store.get(token.ref)
            resting = health.unusable_until > now
            last_error = getattr(health, "last_error", None)
            if last_error is not None and not isinstance(last_error, str):
                last_error = type(last_error).__name__ if isinstance(last_error, BaseException) else str(last_error)
            rows.append({"token": token.ref, "provider": token.provider,
                         "state": health.state if resting else "ok",
                         "in_flight": self.in_flight(token), "limit": self._limit_for(token),
                         "until": wall + health.unusable_until - now if resting else None,
                         "last_status": health.status or None, "last_error": last_error})
        return rows

"""The token pool across processes: the same choices and health as TokenPool, its slots and queue in Redis."""

from __future__ import annotations

import random
import threading
import time
import uuid
from typing import Callable

from services.credentials import Token
from services.errors import RateLimited
from services.pool import BUSY_RETRY_AFTER, BUSY_WAIT_BOUNDS, Lease, TokenPool
from services.store.health import HealthStore
from services.store.redis import health_from
from services.store.redis_leases import RedisLeases


class SharedLease(Lease):
    """A slot held in Redis; release it exactly once."""

    def __init__(self, pool: "SharedTokenPool", token: Token, lease_id: str):
        super().__init__(pool, token)
        self.lease_id = lease_id

    def release(self) -> None:
        """Give the slot back to every process's queue (with the answer's success, in the same round trip)."""
        if not self._released:
            self._released = True
            succeeded = self.pool._took_success(self.token)
            if self.sent:  # before the slot is free: the next holder sees the gap
                succeeded = self.pool._answer_ended(self.token, succeeded)
            self.pool.leases.release(self.lease_id, succeeded=succeeded)


class SharedTokenPool(TokenPool):
    """Leases tokens across every worker and instance; health is wall-clock so all of them agree on it."""

    def __init__(self, limit_for: Callable[[Token], int], store: HealthStore, leases: RedisLeases,
                 key: Callable[[Token], str] | None = None):
        super().__init__(limit_for, store, clock=time.time, key=key)
        self.leases = leases
        self._succeeded: set[Token] = set()   # answered well on a slot still held: forgotten at its release
        self._lock = threading.Lock()

    leases_at_once = False  # every lease is a Redis round trip: the relay asks off the HTTP side

    def ticket(self) -> int:
        """A place in the queue shared by every process."""
        return self.leases.ticket()

    def acquire(self, tokens: list[Token], timeout: float, cancelled: threading.Event | None = None,
                ticket: int | None = None) -> Lease:
        """Lease one of the tokens as TokenPool does: one round trip when a slot is free; else wait until a
        release anywhere rings, a rest ends, or the slow poll comes round, within the deadline."""
        deadline = self._clock() + timeout
        ticket = self.ticket() if ticket is None else ticket
        waiter = uuid.uuid4().hex
        asked: list[Token] = []
        limits = [self._limit_for(t) or 0 for t in tokens]
        bell = None
        try:
            while True:
                # Shuffled: the least busy token wins, and a random one among equals.
                order = random.sample(range(len(tokens)), len(tokens))
                got, raw, ready_in = self.leases.try_acquire([tokens[i] for i in order],
                                                             [limits[i] for i in order], waiter, ticket)
                seen = {tokens[i]: health_from(h) for i, h in zip(order, raw)}
                if got is not None:
                    asked = []  # the grant took the waiter off every queue
                    lease = self._paced(tokens[order[got[0]]], got[1])
                    if lease is not None:
                        return lease
                    seen = None  # held back by its pace: it now rests like a cooldown (read again)
                usable = [t for t in tokens if self._health(t, seen).unusable_until <= self._clock()]
                asked = sorted(set(asked) | set(usable), key=tokens.index)  # queued on these
                if self._clock() >= deadline or (cancelled is not None and cancelled.is_set()):
                    self._refuse_if_none_ready_by(tokens, self._clock(), seen)
                    raise RateLimited(
                        f"Every account for this request is busy (waited {timeout:.0f} s; "
                        f"{BUSY_WAIT_BOUNDS} bound the wait).", code="accounts_busy", retry_after=BUSY_RETRY_AFTER)
                self._refuse_if_none_ready_by(tokens, deadline, seen)
                if bell is None:
                    bell = self.leases.listen(tokens)  # then ask again: a release since the ask would not ring
                    continue
                now = self._clock()
                # Slots granted again after a first start or a loss: every waiter asks at that moment.
                slow = self.leases.POLL_SECONDS * random.uniform(0.5, 1.0)
                bell.wait(min(ready_in or slow, slow, deadline - now, self._next_ready(tokens, seen) - now),
                          cancelled)
        finally:
            if bell is not None:
                bell.close()
            if asked:
                self.leases.leave_queue(asked, waiter)

    def report_success(self, token: Token) -> None:
        """Forget past failures of a token that just worked: with the release of its slot when one is held
        here (no round trip of its own), else now."""
        if self.leases.holds(token):
            with self._lock:
                self._succeeded.add(token)
        else:
            super().report_success(token)

    def report_failure(self, token: Token, error) -> None:
        """Remember what a failure says about the token; a success still to be sent with a release is dropped,
        so it cannot forget a failure that came after it."""
        with self._lock:
            self._succeeded.discard(token)
        super().report_failure(token, error)

    def _took_success(self, token: Token) -> bool:
        """Whether an answer on the token succeeded since its last release here (and forget that it did)."""
        with self._lock:
            if token in self._succeeded:
                self._succeeded.discard(token)
                return True
        return False

    def _paced(self, token: Token, lease_id: str) -> SharedLease | None:
        """The won slot as a lease when the account's pace lets an answer start now; else the slot goes back."""
        admitted = False
        try:
            admitted = self._admit(token)
        finally:
            if not admitted:
                self.leases.release(lease_id)
        return SharedLease(self, token, lease_id) if admitted else None

    def in_flight(self, token: Token) -> int:
        """Requests using the token right now, in every process."""
        return self.leases.in_flight(token)

    def release_all(self) -> None:
        """Give back every slot this process holds."""
        self.leases.release_all()

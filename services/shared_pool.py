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
from services.store.redis_leases import RedisLeases


class SharedLease(Lease):
    """A slot held in Redis; release it exactly once."""

    def __init__(self, pool: "SharedTokenPool", token: Token, lease_id: str):
        super().__init__(pool, token)
        self.lease_id = lease_id

    def release(self) -> None:
        """Give the slot back to every process's queue."""
        if not self._released:
            self._released = True
            if self.sent:  # before the slot is free: the next holder sees the gap
                self.pool._answer_ended(self.token)
            self.pool.leases.release(self.lease_id)


class SharedTokenPool(TokenPool):
    """Leases tokens across every worker and instance; health is wall-clock so all of them agree on it."""

    def __init__(self, limit_for: Callable[[Token], int], store: HealthStore, leases: RedisLeases,
                 key: Callable[[Token], str] | None = None):
        super().__init__(limit_for, store, clock=time.time, key=key)
        self.leases = leases

    leases_at_once = False  # every lease and ticket is a Redis round trip: the relay asks off the HTTP side

    def ticket(self) -> int:
        """A place in the queue shared by every process."""
        return self.leases.ticket()

    def acquire(self, tokens: list[Token], timeout: float, cancelled: threading.Event | None = None,
                ticket: int | None = None) -> Lease:
        """Lease one of the tokens as TokenPool does, asking Redis until a slot is ours or the wait is over."""
        deadline = self._clock() + timeout
        self._refuse_if_none_ready_by(tokens, deadline)
        ticket = self.ticket() if ticket is None else ticket
        waiter = uuid.uuid4().hex
        asked: list[Token] = []
        try:
            while True:
                usable = [t for t in tokens if self._usable(t)]
                # Shuffled: the least busy token wins, and a random one among equals.
                usable = random.sample(usable, len(usable))
                if usable:
                    got = self.leases.try_acquire(usable, [self._limit_for(t) or 0 for t in usable], waiter, ticket)
                    if got is not None:
                        lease = self._paced(usable[got[0]], got[1])
                        if lease is not None:
                            return lease  # else held back by its pace: it now rests like a cooldown
                    asked = sorted(set(asked) | set(usable), key=tokens.index)  # queued on these
                if self._clock() >= deadline or (cancelled is not None and cancelled.is_set()):
                    self._refuse_if_none_ready_by(tokens, self._clock())
                    raise RateLimited(
                        f"Every account for this request is busy (waited {timeout:.0f} s; "
                        f"{BUSY_WAIT_BOUNDS} bound the wait).", code="accounts_busy", retry_after=BUSY_RETRY_AFTER)
                self._refuse_if_none_ready_by(tokens, deadline)
                wait = min(self.leases.POLL_SECONDS * random.uniform(0.5, 1.5), deadline - self._clock())
                if cancelled is not None:
                    cancelled.wait(max(0.0, wait))
                else:
                    time.sleep(max(0.0, wait))
        finally:
            if asked:
                self.leases.leave_queue(asked, waiter)

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

"""Per-account leases on Redis that expire unless renewed, and a first-come queue across processes."""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
import weakref

import redis

from services.credentials import Token
from services.store import StoreUnavailable
from services.store.keys import LEASES_READY_KEY, POOL_PREFIX, REDIS_SECRET_KEY, StateKeys
from services.store.redis import best_effort, required
from services.store.redis_lease_scripts import ACQUIRE, LEAVE, RELEASE, RENEW
from services.store.redis_wake import ReleaseBell

log = logging.getLogger("freeseek")


class RedisLeases:
    """Slots on accounts shared by every process; this process renews the ones it holds while they stream."""

    POLL_SECONDS = 1.0        # a waiter not woken by a release asks again this often (a lost announcement)
    WAITER_SECONDS = 2.5      # a waiter that stopped asking (a killed worker) leaves the queue after this

    def __init__(self, client: redis.Redis, lease_seconds: float, keys: StateKeys, prefix: str = POOL_PREFIX):
        self.client, self.prefix, self.keys = client, prefix, keys
        self.ttl_ms = int(lease_seconds * 1000)
        self._acquire = client.register_script(ACQUIRE)
        self._release = client.register_script(RELEASE)
        self._leave = client.register_script(LEAVE)
        self._renew_script = client.register_script(RENEW)
        self.bell = ReleaseBell(client, prefix + "released")
        # lease id -> [token, the leases key it was last written to, the account's limit, loss logged], renewed
        # while held. The lock guards this map only and is never held across a round trip: with Redis stalled,
        # a new request must still get its ticket and its prompt 503.
        self._held: dict[str, list] = {}
        self._lock = threading.Lock()
        self._renewer: threading.Thread | None = None
        self._owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._unreachable = False   # the last renewal failed: its warning is said once per outage
        self._ticket_lock = threading.Lock()
        self._last_ticket = 0

    def ticket(self) -> int:
        """A place in the queue shared by every process, without a round trip: the wall-clock microsecond of
        arrival (hosts' clocks must agree for leases already), strictly increasing within this process."""
        with self._ticket_lock:
            self._last_ticket = max(self._last_ticket + 1, time.time_ns() // 1000)
            return self._last_ticket

    def try_acquire(self, tokens: list[Token], limits: list[int], waiter: str,
                    ticket: int) -> tuple[tuple[int, str] | None, list[str], float]:
        """Take a slot on the least busy usable token (its index and the lease id), or queue the waiter on the
        usable ones (None); with each token's stored health as read in the same step ('' when healthy), and the
        seconds until slots are granted again after a first start or a loss (0 when they are)."""
        keys = [k for key in map(self.keys.token, tokens)
                for k in (self.leases_key(key), self.prefix + "waits:" + key, self.prefix + "health:" + key)]
        keys += [REDIS_SECRET_KEY, LEASES_READY_KEY, self.prefix + "alive"]
        lease = f"{self._owner}:{uuid.uuid4().hex[:12]}"
        self._start_renewer()   # the heartbeat that keeps the ready marker, from this process's first ask
        with required("no account could be leased"):
            index, health, ready_in = self._acquire(keys=keys, args=[
                self._now_ms(), self.ttl_ms, waiter, ticket, lease, self._waiter_ms(), self._secret(),
                self.prefix + "released", *limits])
        if index == -1:
            log.warning("shared store: the state secret in Redis changed (its data was lost); keys derived again")
            self.keys.reload()
            return None, health, 0.0
        if not index:
            return None, health, int(ready_in) / 1000
        with self._lock:
            self._held[lease] = [tokens[index - 1], keys[3 * (index - 1)], limits[index - 1], False]
        return (index - 1, lease), health, 0.0

    def leave_queue(self, tokens: list[Token], waiter: str) -> None:
        """Stop waiting (leased elsewhere, timed out, or cancelled); whoever was behind asks again."""
        with best_effort("leave the queue"):
            keys = [k for key in map(self.keys.token, tokens)
                    for k in (self.leases_key(key), self.prefix + "waits:" + key)]
            self._leave(keys=keys + [self.prefix + "alive"], args=[waiter, self.prefix + "released"])

    def listen(self, tokens: list[Token]):
        """A doorbell that rings when a slot on one of the tokens is freed by any process."""
        return self.bell.listen([self.leases_key(self.keys.token(t)) for t in tokens])

    def release(self, lease: str, succeeded: bool = False) -> None:
        """Give the slot back, forgetting the account's past failures when its answer `succeeded`, and wake the
        waiters (if Redis cannot be told, the lease expires by itself)."""
        with self._lock:
            held = self._held.pop(lease, None)
        if held is not None:
            self._give_back(lease, held[1], succeeded)

    def holds(self, token: Token) -> bool:
        """Whether this process holds a slot on the token now."""
        with self._lock:
            return any(held[0] == token for held in self._held.values())

    def release_all(self) -> None:
        """Give back every slot this process holds (a worker shutting down)."""
        with self._lock:
            leases = list(self._held)
        for lease in leases:
            self.release(lease)

    def in_flight(self, token: Token) -> int:
        """Live leases on the token, across every process."""
        count = 0
        with best_effort("count leases"):
            count = int(self.client.zcount(self.leases_key(self.keys.token(token)), f"({self._now_ms()}", "+inf"))
        return count

    def leases_key(self, token_key: str) -> str:
        """The key of one token's leases."""
        return self.prefix + "leases:" + token_key

    def _give_back(self, lease: str, key: str, succeeded: bool) -> None:
        """Remove a lease from Redis and announce its account (best effort: else it expires by itself)."""
        with best_effort("release a lease"):
            health = self.prefix + "health:" + key.removeprefix(self.prefix + "leases:")
            self._release(keys=[key, health], args=[lease, "1" if succeeded else "0", self.prefix + "released"])

    def _secret(self) -> str:
        """The generated state secret the script checks against Redis's ('' when configured: nothing to check)."""
        return self.keys.secret.decode() if self.keys.generated else ""

    def _keep_secret(self) -> None:
        """Give a Redis that lost its data back the secret our leases' keys come from, or take the one another
        worker put there first (our leases then move to the keys it gives)."""
        ours = self._secret()
        self.client.set(REDIS_SECRET_KEY, ours, nx=True)
        kept = self.client.get(REDIS_SECRET_KEY)
        if kept and kept != ours:
            log.warning("shared store: the state secret in Redis changed (its data was lost); leases held here "
                        "move to the keys it gives")
            self.keys.adopt(kept.encode())

    def _waiter_ms(self) -> int:
        """How long a queued waiter counts as alive without asking again: past its slowest poll."""
        return int(max(self.WAITER_SECONDS, 2.5 * self.POLL_SECONDS) * 1000)

    def _now_ms(self) -> int:
        """Wall-clock milliseconds, the same on every host."""
        return int(time.time() * 1000)

    def _start_renewer(self) -> None:
        """Start the heartbeat thread once (again in a forked worker, where the parent's thread does not run)."""
        with self._lock:
            if self._renewer is None or not self._renewer.is_alive():
                # A weak reference: a pool nobody uses any more (a test's) stops beating.
                self._renewer = threading.Thread(target=_beat, args=(weakref.ref(self), self.ttl_ms / 3000),
                                                 name="lease-renewer", daemon=True)
                self._renewer.start()

    def _renew(self) -> None:
        """Keep the ready marker alive and push held leases' expiry forward, putting lost ones back within limits."""
        with self._lock:
            held = {lease: list(entry) for lease, entry in self._held.items()}
        try:
            if held and self.keys.generated:
                self._keep_secret()
            for entry in held.values():   # the keys a secret adopted just now gives
                entry[1] = self.leases_key(self.keys.token(entry[0]))
            args = [self._now_ms(), self.ttl_ms]
            for lease, entry in held.items():
                args += [lease, entry[2]]
            back, lost = self._renew_script(keys=[LEASES_READY_KEY] + [entry[1] for entry in held.values()],
                                            args=args)
        except (redis.RedisError, StoreUnavailable) as exc:
            if not self._unreachable:   # once per outage: the heartbeat goes on every third of a lease time
                log.warning("shared store: could not renew leases (%s); trying again every %.1f s",
                            type(exc).__name__, self.ttl_ms / 3000)
            self._unreachable = True
            return
        self._unreachable = False
        with self._lock:
            for lease, entry in held.items():
                if lease in self._held:
                    self._held[lease][1] = entry[1]
            released = [lease for lease in back if lease not in self._held]
            lost = [lease for lease in lost if lease in self._held and not self._held[lease][3]]
            for lease in lost:
                self._held[lease][3] = True
        for lease in released:   # released while this renewal put it back: take it out again
            self._give_back(lease, held[lease][1], False)
        for lease in lost:
            log.warning("shared store: the lease on %s was lost (Redis was out of reach longer than a lease "
                        "time and the account was leased again); its answer goes on beside another",
                        held[lease][0].ref)


def _beat(leases: "weakref.ref[RedisLeases]", seconds: float) -> None:
    """Renew every third of a lease time, leases held or not, while the pool is in use."""
    while True:
        time.sleep(seconds)
        pool = leases()
        if pool is None:
            return
        pool._renew()
        del pool

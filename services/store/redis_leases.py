"""Per-account leases on Redis that expire unless renewed, and a first-come queue across processes."""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid

import redis

from services.credentials import Token
from services.store.keys import LEASES_READY_KEY, POOL_PREFIX, REDIS_SECRET_KEY, StateKeys
from services.store.redis import best_effort, required
from services.store.redis_wake import ReleaseBell

log = logging.getLogger("freeseek")

# Every key of the pool (leases, queues, health, waiters, the state secret and the first-start marker) is under
# POOL_PREFIX, whose hash tag {pool} puts them in one Redis Cluster slot: each script below touches that slot
# only, and a multi-account acquire stays one atomic step (docs/serving.md says what that costs on a cluster).

# One atomic step for a waiter, in one round trip: read the candidates' health (returned, so the caller judges
# refusals and rests without another read), drop expired leases and dead waiters, then take a slot on the least
# busy usable token whose earliest live waiter is not ahead of us; otherwise join each usable token's queue by
# ticket. After Redis lost its data (a restart), no slot is granted for one lease time, so holders that still
# stream can reassert their leases first: never two answers on one account. An empty store cannot tell a first
# start from a loss, so a first start waits that lease time too (no process may declare it ready). Token keys
# are hashes under a state secret kept in Redis: a waiter whose secret is not the one kept there (Redis lost it
# and another worker made a new one) gets -1 and derives its keys again, so no slot is granted under a stale
# key. A waiter taken off other accounts' queues announces them, so whoever was behind it asks again.
_ACQUIRE = """
local now, ttl, me, ticket = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local lease, alive_ttl, secret, channel = ARGV[5], tonumber(ARGV[6]), ARGV[7], ARGV[8]
local n = (#KEYS - 3) / 3
local alive = KEYS[#KEYS]
local health, usable = {}, {}
for i = 1, n do
  health[i] = redis.call('GET', KEYS[3*i]) or ''
  usable[i] = health[i] == '' or tonumber(cjson.decode(health[i]).unusable_until) * 1000 <= now
end
if secret ~= '' then
  local kept = redis.call('GET', KEYS[#KEYS - 2])
  if not kept then redis.call('SET', KEYS[#KEYS - 2], secret); kept = secret end
  if kept ~= secret then return {-1, health} end
end
local boot = redis.call('GET', KEYS[#KEYS - 1])
if not boot then redis.call('SET', KEYS[#KEYS - 1], now); boot = now end
local ready = now >= tonumber(boot) + ttl
redis.call('ZREMRANGEBYSCORE', alive, '-inf', now)
local best, best_count = nil, nil
for i = 1, n do
  local leases, waits, limit = KEYS[3*i-2], KEYS[3*i-1], tonumber(ARGV[8+i])
  if usable[i] then
    redis.call('ZREMRANGEBYSCORE', leases, '-inf', now)
    local count = redis.call('ZCARD', leases)
    if limit == 0 or count < limit then
      local first = true
      while true do
        local head = redis.call('ZRANGE', waits, 0, 0, 'WITHSCORES')
        if #head == 0 or head[1] == me or tonumber(head[2]) > ticket then break end
        if redis.call('ZSCORE', alive, head[1]) then first = false; break end
        redis.call('ZREM', waits, head[1])
      end
      if first and ready and (best == nil or count < best_count) then best, best_count = i, count end
    end
  end
end
if best then
  redis.call('ZADD', KEYS[3*best-2], now + ttl, lease)
  redis.call('PEXPIRE', KEYS[3*best-2], ttl * 2)
  for i = 1, n do
    if redis.call('ZREM', KEYS[3*i-1], me) == 1 and i ~= best then redis.call('PUBLISH', channel, KEYS[3*i-2]) end
  end
  redis.call('ZREM', alive, me)
  return {best, health}
end
for i = 1, n do
  if usable[i] then
    redis.call('ZADD', KEYS[3*i-1], 'NX', ticket, me)
    redis.call('PEXPIRE', KEYS[3*i-1], alive_ttl * 10)
  end
end
redis.call('ZADD', alive, now + alive_ttl, me)
redis.call('PEXPIRE', alive, alive_ttl * 10)
return {0, health}
"""

# Give a slot back in one round trip: forget the account's past failures when the answer succeeded (as
# TokenPool.report_success does), and announce the freed slot to every process's waiters.
_RELEASE = """
local gone = redis.call('ZREM', KEYS[1], ARGV[1])
if ARGV[2] == '1' then
  local raw = redis.call('GET', KEYS[2])
  if raw and cjson.decode(raw).state ~= 'ok' then redis.call('DEL', KEYS[2]) end
end
redis.call('PUBLISH', ARGV[3], KEYS[1])
return gone
"""

# A waiter leaves every queue it joined (leased elsewhere, timed out, cancelled) and announces those accounts, so
# whoever waited behind it asks again. KEYS: each account's leases and waits keys, then the waiters' key.
_LEAVE = """
for i = 1, (#KEYS - 1) / 2 do
  if redis.call('ZREM', KEYS[2*i], ARGV[1]) == 1 then redis.call('PUBLISH', ARGV[2], KEYS[2*i-1]) end
end
redis.call('ZREM', KEYS[#KEYS], ARGV[1])
return 0
"""


class RedisLeases:
    """Slots on accounts shared by every process; this process renews the ones it holds while they stream."""

    POLL_SECONDS = 1.0        # a waiter not woken by a release asks again this often (a lost announcement)
    WAITER_SECONDS = 2.5      # a waiter that stopped asking (a killed worker) leaves the queue after this

    def __init__(self, client: redis.Redis, lease_seconds: float, keys: StateKeys, prefix: str = POOL_PREFIX):
        self.client, self.prefix, self.keys = client, prefix, keys
        self.ttl_ms = int(lease_seconds * 1000)
        self._acquire = client.register_script(_ACQUIRE)
        self._release = client.register_script(_RELEASE)
        self._leave = client.register_script(_LEAVE)
        self.bell = ReleaseBell(client, prefix + "released")
        # lease id -> [token, the leases key it was last written to], renewed while held
        self._held: dict[str, list] = {}
        self._lock = threading.Lock()
        self._renewer: threading.Thread | None = None
        self._owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._last_ticket = 0

    def ticket(self) -> int:
        """A place in the queue shared by every process, without a round trip: the wall-clock microsecond of
        arrival (hosts' clocks must agree for leases already), strictly increasing within this process."""
        with self._lock:
            self._last_ticket = max(self._last_ticket + 1, time.time_ns() // 1000)
            return self._last_ticket

    def try_acquire(self, tokens: list[Token], limits: list[int], waiter: str,
                    ticket: int) -> tuple[tuple[int, str] | None, list[str]]:
        """Take a slot on the least busy usable token (its index and the lease id), or queue the waiter on the
        usable ones (None); with each token's stored health as read in the same step ('' when healthy)."""
        keys = [k for key in map(self.keys.token, tokens)
                for k in (self.leases_key(key), self.prefix + "waits:" + key, self.prefix + "health:" + key)]
        keys += [REDIS_SECRET_KEY, LEASES_READY_KEY, self.prefix + "alive"]
        lease = f"{self._owner}:{uuid.uuid4().hex[:12]}"
        with required("no account could be leased"):
            index, health = self._acquire(keys=keys, args=[
                self._now_ms(), self.ttl_ms, waiter, ticket, lease, self._waiter_ms(), self._secret(),
                self.prefix + "released", *limits])
        if index == -1:
            log.warning("shared store: the state secret in Redis changed (its data was lost); keys derived again")
            self.keys.reload()
            return None, health
        if not index:
            return None, health
        with self._lock:
            self._held[lease] = [tokens[index - 1], keys[3 * (index - 1)]]
        self._start_renewer()
        return (index - 1, lease), health

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
        # Under the lock: a renewal running at the same time must not put the released lease back.
        with self._lock:
            held = self._held.pop(lease, None)
            if held is not None:
                with best_effort("release a lease"):
                    health = self.prefix + "health:" + held[1].removeprefix(self.prefix + "leases:")
                    self._release(keys=[held[1], health], args=[lease, "1" if succeeded else "0",
                                                                self.prefix + "released"])

    def holds(self, token: Token) -> bool:
        """Whether this process holds a slot on the token now."""
        with self._lock:
            return any(held[0] == token for held in self._held.values())

    def release_all(self) -> None:
        """Give back every slot this process holds (a worker shutting down)."""
        for lease in list(self._held):
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
        """Start the thread that renews this process's leases, once."""
        with self._lock:
            if self._renewer is None or not self._renewer.is_alive():
                self._renewer = threading.Thread(target=self._renew, name="lease-renewer", daemon=True)
                self._renewer.start()

    def _renew(self) -> None:
        """Push the expiry of held leases forward while any is held; re-add those a restarted Redis lost."""
        while True:
            time.sleep(self.ttl_ms / 3000)
            with self._lock:
                held = dict(self._held)
            if not held:
                with self._lock:
                    if not self._held:
                        self._renewer = None
                        return
                continue
            with self._lock, best_effort("renew leases"):
                if self.keys.generated:
                    self._keep_secret()
                pipe = self.client.pipeline(transaction=False)
                expiry = self._now_ms() + self.ttl_ms
                for lease, held in self._held.items():
                    # Within a third of a lease time of a data loss, before any slot is granted again.
                    held[1] = self.leases_key(self.keys.token(held[0]))
                    pipe.zadd(held[1], {lease: expiry})
                    pipe.pexpire(held[1], self.ttl_ms * 2)
                pipe.execute()

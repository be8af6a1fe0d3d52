"""Per-account leases on Redis that expire unless renewed, and a first-come queue across processes."""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid

import redis

from services.credentials import Token
from services.store.keys import REDIS_SECRET_KEY, StateKeys
from services.store.redis import best_effort, required

log = logging.getLogger("freeseek")

# One atomic step for a waiter: drop expired leases and dead waiters, then take a slot on the least busy
# token whose earliest live waiter is not ahead of us; otherwise join each token's queue by ticket.
# After Redis lost its data (a restart), no slot is granted for one lease time, so holders that still
# stream can reassert their leases first: never two answers on one account. An empty store cannot tell a
# first start from a loss, so a first start waits that lease time too (no process may declare it ready). Token keys are hashes under a
# state secret kept in Redis: a waiter whose secret is not the one kept there (Redis lost it and another
# worker made a new one) gets -1 and derives its keys again, so no slot is granted under a stale key.
_ACQUIRE = """
local now, ttl, me, ticket = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local lease, alive_ttl, alive = ARGV[5], tonumber(ARGV[6]), ARGV[7]
local n = (#KEYS - 2) / 2
local secret = ARGV[8]
if secret ~= '' then
  local kept = redis.call('GET', KEYS[#KEYS - 1])
  if not kept then redis.call('SET', KEYS[#KEYS - 1], secret); kept = secret end
  if kept ~= secret then return -1 end
end
local boot = redis.call('GET', KEYS[#KEYS])
if not boot then redis.call('SET', KEYS[#KEYS], now); boot = now end
local ready = now >= tonumber(boot) + ttl
local best, best_count = nil, nil
for i = 1, n do
  local leases, waits, limit = KEYS[2*i-1], KEYS[2*i], tonumber(ARGV[8+i])
  redis.call('ZREMRANGEBYSCORE', leases, '-inf', now)
  local count = redis.call('ZCARD', leases)
  if limit == 0 or count < limit then
    local first = true
    while true do
      local head = redis.call('ZRANGE', waits, 0, 0, 'WITHSCORES')
      if #head == 0 or head[1] == me or tonumber(head[2]) > ticket then break end
      if redis.call('EXISTS', alive .. head[1]) == 1 then first = false; break end
      redis.call('ZREM', waits, head[1])
    end
    if first and ready and (best == nil or count < best_count) then best, best_count = i, count end
  end
end
if best then
  redis.call('ZADD', KEYS[2*best-1], now + ttl, lease)
  redis.call('PEXPIRE', KEYS[2*best-1], ttl * 2)
  for i = 1, n do redis.call('ZREM', KEYS[2*i], me) end
  redis.call('DEL', alive .. me)
  return best
end
for i = 1, n do
  redis.call('ZADD', KEYS[2*i], 'NX', ticket, me)
  redis.call('PEXPIRE', KEYS[2*i], alive_ttl * 10)
end
redis.call('SET', alive .. me, 1, 'PX', alive_ttl)
return 0
"""


class RedisLeases:
    """Slots on accounts shared by every process; this process renews the ones it holds while they stream."""

    POLL_SECONDS = 0.05       # a waiter asks again this often (bounded by its deadline, never a hang)
    WAITER_SECONDS = 2.0      # a waiter that stopped asking (a killed worker) leaves the queue after this

    def __init__(self, client: redis.Redis, lease_seconds: float, keys: StateKeys, prefix: str = "freeseek:"):
        self.client, self.prefix, self.keys = client, prefix, keys
        self.ttl_ms = int(lease_seconds * 1000)
        self._acquire = client.register_script(_ACQUIRE)
        # lease id -> [token, the leases key it was last written to], renewed while held
        self._held: dict[str, list] = {}
        self._lock = threading.Lock()
        self._renewer: threading.Thread | None = None
        self._owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"

    def ticket(self) -> int:
        """A place in the queue shared by every process."""
        with required("no place in the queue could be given"):
            return int(self.client.incr(self.prefix + "tickets"))

    def try_acquire(self, tokens: list[Token], limits: list[int], waiter: str,
                    ticket: int) -> tuple[int, str] | None:
        """Take a slot on one of the tokens (index and lease id), or queue the waiter and return None."""
        keys = [k for key in map(self.keys.token, tokens)
                for k in (self._leases_key(key), self.prefix + "waits:" + key)]
        keys += [REDIS_SECRET_KEY, self.prefix + "leases-ready"]
        lease = f"{self._owner}:{uuid.uuid4().hex[:12]}"
        with required("no account could be leased"):
            index = self._acquire(keys=keys, args=[self._now_ms(), self.ttl_ms, waiter, ticket, lease,
                                                   int(self.WAITER_SECONDS * 1000), self.prefix + "alive:",
                                                   self._secret(), *limits])
        if index == -1:
            log.warning("shared store: the state secret in Redis changed (its data was lost); keys derived again")
            self.keys.reload()
            return None
        if not index:
            return None
        with self._lock:
            self._held[lease] = [tokens[index - 1], keys[2 * (index - 1)]]
        self._start_renewer()
        return index - 1, lease

    def leave_queue(self, tokens: list[Token], waiter: str) -> None:
        """Stop waiting (leased elsewhere, timed out, or cancelled)."""
        with best_effort("leave the queue"):
            pipe = self.client.pipeline(transaction=False)
            for key in map(self.keys.token, tokens):
                pipe.zrem(self.prefix + "waits:" + key, waiter)
            pipe.delete(self.prefix + "alive:" + waiter)
            pipe.execute()

    def release(self, lease: str) -> None:
        """Give the slot back (if Redis cannot be told, the lease expires by itself)."""
        # Under the lock: a renewal running at the same time must not put the released lease back.
        with self._lock:
            held = self._held.pop(lease, None)
            if held is not None:
                with best_effort("release a lease"):
                    self.client.zrem(held[1], lease)

    def release_all(self) -> None:
        """Give back every slot this process holds (a worker shutting down)."""
        for lease in list(self._held):
            self.release(lease)

    def in_flight(self, token: Token) -> int:
        """Live leases on the token, across every process."""
        count = 0
        with best_effort("count leases"):
            count = int(self.client.zcount(self._leases_key(self.keys.token(token)), f"({self._now_ms()}", "+inf"))
        return count

    def _leases_key(self, token_key: str) -> str:
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
                    held[1] = self._leases_key(self.keys.token(held[0]))
                    pipe.zadd(held[1], {lease: expiry})
                    pipe.pexpire(held[1], self.ttl_ms * 2)
                pipe.execute()

"""Stored responses on Redis, with the same bounds as in memory: one script keeps, counts and evicts atomically."""

from __future__ import annotations

import json
import time

import redis

from services.store.redis import required
from services.store.responses import ResponseBounds, encoded

# Index keys under the prefix P: `order` (every response, by a sequence number: oldest first), `sizes` and
# `expires` (per response), `bytes` (per caller, and '*' for all), `caller:<caller>` (its ids, oldest first),
# and the value itself under `value:<caller>/<id>` with its own expiry. A member is `<caller>/<id>`; the caller
# is a hex hash, so the first '/' splits it.
_PUT = """
local p, caller, id, value = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local now, ttl = tonumber(ARGV[5]), tonumber(ARGV[6])
local max, max_bytes, caller_max, caller_max_bytes = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9]),
  tonumber(ARGV[10])
local order, sizes, expires, bytes = p .. 'order', p .. 'sizes', p .. 'expires', p .. 'bytes'
local function drop(member)
  local size = tonumber(redis.call('HGET', sizes, member) or '0')
  local sep = string.find(member, '/', 1, true)
  local who = string.sub(member, 1, sep - 1)
  redis.call('ZREM', order, member)
  redis.call('HDEL', sizes, member)
  redis.call('HDEL', expires, member)
  redis.call('ZREM', p .. 'caller:' .. who, string.sub(member, sep + 1))
  if size > 0 then
    if redis.call('HINCRBY', bytes, who, -size) <= 0 then redis.call('HDEL', bytes, who) end
    redis.call('HINCRBY', bytes, '*', -size)
  end
  redis.call('DEL', p .. 'value:' .. member)
end
local function used(field) return tonumber(redis.call('HGET', bytes, field) or '0') end
while true do
  local head = redis.call('ZRANGE', order, 0, 0)
  if #head == 0 or tonumber(redis.call('HGET', expires, head[1]) or '0') > now then break end
  drop(head[1])
end
local member = caller .. '/' .. id
drop(member)
local size = #value
if size > caller_max_bytes or size > max_bytes then return 0 end
local seq = redis.call('INCR', p .. 'seq')
local mine = p .. 'caller:' .. caller
redis.call('SET', p .. 'value:' .. member, value, 'PX', ttl)
redis.call('ZADD', order, seq, member)
redis.call('HSET', sizes, member, size)
redis.call('HSET', expires, member, now + ttl)
redis.call('ZADD', mine, seq, id)
redis.call('HINCRBY', bytes, caller, size)
redis.call('HINCRBY', bytes, '*', size)
while redis.call('ZCARD', mine) > caller_max or used(caller) > caller_max_bytes do
  local oldest = redis.call('ZRANGE', mine, 0, 0)
  if #oldest == 0 then break end
  drop(caller .. '/' .. oldest[1])
end
while redis.call('ZCARD', order) > max or used('*') > max_bytes do
  local oldest = redis.call('ZRANGE', order, 0, 0)
  if #oldest == 0 then break end
  drop(oldest[1])
end
-- Every response kept expires within ttl of now: so do the indexes when no other response comes.
for _, key in ipairs({order, sizes, expires, bytes, mine, p .. 'seq'}) do redis.call('PEXPIRE', key, ttl) end
return 1
"""


class RedisResponses:
    """StoredResponses shared by every worker and instance, bounded as MemoryResponses is."""

    # The hash tag {responses} keeps every key the script builds in one Redis Cluster slot; the script names its
    # `order` key so a cluster client routes it to that slot's node.
    def __init__(self, client: redis.Redis, bounds: ResponseBounds, prefix: str = "freeseek:{responses}:"):
        self.client, self.bounds, self.prefix = client, bounds, prefix
        self._put = client.register_script(_PUT)

    def put(self, caller: str, response_id: str, value: dict) -> bool:
        """Keep the value, evicting as the bounds say (raises StoreUnavailable when Redis cannot be reached)."""
        b = self.bounds
        with required("the response could not be stored"):
            kept = self._put(keys=[self.prefix + "order"], args=[self.prefix, caller, response_id, encoded(value), int(time.time() * 1000),
                                   max(1, int(b.seconds * 1000)), b.max, b.max_bytes, b.caller_max,
                                   b.caller_max_bytes])
        return bool(kept)

    def get(self, caller: str, response_id: str) -> dict | None:
        """The caller's live value under the id, or None."""
        with required("a stored response could not be read"):
            raw = self.client.get(f"{self.prefix}value:{caller}/{response_id}")
        return json.loads(raw) if raw is not None else None

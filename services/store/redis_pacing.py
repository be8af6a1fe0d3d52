"""Each web account's pace and history on Redis, so every worker and instance spends one budget."""

from __future__ import annotations

import json
import uuid

import redis

from services.pacing import DAY, HOUR
from services.store.redis import best_effort, required

# One atomic step: read the account's history (returned, with the budgets it calls for: the reduced ones while
# its penalty lasts), then refuse inside the gap, or when the rolling day's or hour's budget is spent (saying
# when the oldest start that counts leaves the window), else count a start now (when asked: a check at lease
# time counts nothing, the answer's request going out does). Times travel as strings: Redis turns a Lua number
# in a reply into an integer. Every key of one account carries its hash tag: one Redis Cluster slot.
_START = """
local now, member = tonumber(ARGV[1]), ARGV[2]
local day, hour, count = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5] == '1'
local wall, hourly, daily = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local history = redis.call('GET', KEYS[3]) or ''
if history ~= '' then
  local penalty = cjson.decode(history).penalty_until
  if type(penalty) == 'number' and penalty > wall then hourly, daily = tonumber(ARGV[9]), tonumber(ARGV[10]) end
end
local nxt = tonumber(redis.call('GET', KEYS[2]) or '0')
if nxt > now then return {'gap', tostring(nxt), history} end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - day)
local n = redis.call('ZCARD', KEYS[1])
if daily > 0 and n >= daily then
  local t = redis.call('ZRANGE', KEYS[1], n - daily, n - daily, 'WITHSCORES')
  return {'daily', tostring(tonumber(t[2]) + day), history}
end
local h = redis.call('ZCOUNT', KEYS[1], '(' .. (now - hour), '+inf')
if hourly > 0 and h >= hourly then
  local t = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. (now - hour), '+inf', 'WITHSCORES', 'LIMIT', h - hourly, 1)
  return {'hourly', tostring(tonumber(t[2]) + hour), history}
end
if count and (hourly > 0 or daily > 0) then
  redis.call('ZADD', KEYS[1], now, member)
  redis.call('EXPIRE', KEYS[1], math.ceil(day) + 60)
end
return {'ok', '0', history}
"""

# The next allowed start only moves later (two workers ending answers at once keep the later one).
_END = """
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > nxt then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) end
return 0
"""


class RedisPaceBook:
    """A PaceBook every process shares (times are wall-clock seconds, the same on every host)."""

    def __init__(self, client: redis.Redis, prefix: str = "freeseek:pace:"):
        self.client, self.prefix = client, prefix
        self._start = client.register_script(_START)
        self._end = client.register_script(_END)

    def start(self, key: str, now: float, hourly: int, daily: int, count: bool = True) -> tuple[str, float]:
        """Count a start now (when `count`), or say which limit holds the account back and until when."""
        return self.checked_start(key, now, (hourly, daily), (hourly, daily), 0.0, count)[1:]

    def checked_start(self, key: str, now: float, budgets: tuple[int, int], reduced: tuple[int, int], wall: float,
                      count: bool) -> tuple[dict, str, float]:
        """The account's history, and start() under the budgets it calls for, in one round trip."""
        with required("an account's pace could not be checked"):
            verdict, until, history = self._start(
                keys=[self._key("starts", key), self._key("next", key), self._key("history", key)],
                args=[repr(now), uuid.uuid4().hex, DAY, HOUR, "1" if count else "0", repr(wall), *budgets,
                      *reduced])
        return json.loads(history) if history else {}, str(verdict), float(until)

    def end(self, key: str, next_start: float) -> None:
        """Set the next allowed start (never earlier than one already set)."""
        with best_effort("record the end of an answer"):
            self._end(keys=[self._key("next", key)], args=[repr(next_start), int(DAY)])

    def usage(self, key: str, now: float) -> tuple[int, int, float]:
        """Starts in the last hour and day, and the next allowed start."""
        hour = day = 0
        next_start = 0.0
        with best_effort("read an account's pace"):
            pipe = self.client.pipeline(transaction=False)
            pipe.zcount(self._key("starts", key), f"({now - HOUR!r}", "+inf")
            pipe.zcount(self._key("starts", key), f"({now - DAY!r}", "+inf")
            pipe.get(self._key("next", key))
            hour, day, raw = pipe.execute()
            next_start = float(raw or 0.0)
        return int(hour), int(day), next_start

    def history(self, key: str) -> dict:
        """The account's remembered mutes and bans (empty when none, or when Redis cannot say)."""
        raw = None
        with best_effort("read an account's history"):
            raw = self.client.get(self._key("history", key))
        return json.loads(raw) if raw else {}

    def record(self, key: str, history: dict, seconds: float) -> None:
        """Keep the history for every worker, expiring after `seconds`."""
        with best_effort("record an account's history"):
            self.client.set(self._key("history", key), json.dumps(history), ex=max(1, int(seconds)))

    def _key(self, kind: str, key: str) -> str:
        """The Redis key of one piece of one account's pace."""
        return f"{self.prefix}{{{key}}}:{kind}"   # one account's keys: one cluster slot

"""The conversation map and the sessions to clean up, on Redis: any worker continues, one deletes."""

from __future__ import annotations

import json
import time

import redis

from services.credentials import Token
from services.providers.deepseek_web.conversations import Session, Turn, fingerprint, forget_after
from services.store.redis import best_effort, required, token_fields, token_from

# Take the idle sessions due by now: whoever removes one from the schedule is the one who deletes it.
POP_BATCH = 100   # idle sessions one script takes from the schedule
_POP_IDLE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, id in ipairs(due) do
  if redis.call('ZREM', KEYS[1], id) == 1 then
    local owner = redis.call('HGET', ARGV[2] .. id, 'token')
    redis.call('DEL', ARGV[2] .. id)
    if owner then table.insert(out, id); table.insert(out, owner) end
  end
end
return out
"""
# A remembered turn counts only while its session does (one round trip: the session's key is read from the turn).
_MATCH = """
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
if redis.call('EXISTS', ARGV[1] .. cjson.decode(raw).session) == 0 then return false end
return raw
"""
# Mark a session busy, and push its deletion past the longest an answer may hold it; its record is kept for
# the backstop time from now.
_BUSY = """
if redis.call('HINCRBY', KEYS[1], 'busy', 1) > 0 then redis.call('ZADD', KEYS[2], 'XX', ARGV[1], ARGV[2]) end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 0
"""
# Mark a session idle (when it is still tracked): once no answer holds it, its idle time starts.
_IDLE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('EXPIRE', KEYS[1], ARGV[3])
if redis.call('HINCRBY', KEYS[1], 'busy', -1) <= 0 then
  redis.call('HSET', KEYS[1], 'busy', 0)
  redis.call('ZADD', KEYS[2], 'XX', ARGV[1], ARGV[2])
end
return 1
"""
# Every key of one provider's conversations carries the prefix's hash tag ({deepseek-web}): the scripts, which
# read session keys they learn inside, stay in one Redis Cluster slot.

# Busy sessions are scheduled no earlier than this after their last use: a worker killed mid-answer never
# releases its session, which must still be deleted some day.
BUSY_BOUND_SECONDS = 3600.0


class RedisConversations:
    """What Conversations remembers, kept in Redis (times are wall-clock, the same on every host)."""

    shared = True   # every worker runs the janitor: a session outlives the worker that made it

    def __init__(self, client: redis.Redis, idle_seconds: float, prefix: str = "freeseek:{web}:"):
        self.client, self.idle_seconds, self.prefix = client, idle_seconds, prefix
        self._pop_idle = client.register_script(_POP_IDLE)
        self._match, self._busy, self._idle = map(client.register_script, (_MATCH, _BUSY, _IDLE))
        self._schedule = prefix + "idle"
        # A turn outlives its session by nothing: match() checks the session, expiry only collects garbage.
        self._turn_seconds = int(idle_seconds + BUSY_BOUND_SECONDS)
        # The backstop: a session's record expires this long after its last use, and its place in the schedule
        # goes once that long overdue, so sessions the janitor never takes (deletion off) do not stay forever.
        self._forget_seconds = int(forget_after(idle_seconds))

    def remember(self, messages: list[dict], answer: str, turn: Turn) -> None:
        """Record that this conversation, with this answer appended, ended at `turn`."""
        key = fingerprint(messages + [{"role": "assistant", "content": answer}])
        value = {"session": turn.session_id, "message": turn.message_id, "token": token_fields(turn.token)}
        with best_effort("remember a conversation"):
            self.client.set(self.prefix + "turn:" + key, json.dumps(value), ex=self._turn_seconds)

    def match(self, messages: list[dict]) -> Turn | None:
        """The turn whose conversation equals this request's history (all but its last user message)."""
        if len(messages) < 3 or messages[-1].get("role") != "user":
            return None
        with required("a resent conversation could not be looked up"):
            raw = self._match(keys=[self.prefix + "turn:" + fingerprint(messages[:-1])],
                              args=[self.prefix + "session:"])
        if raw is None:
            return None
        value = json.loads(raw)
        return Turn(value["session"], value["message"], token_from(value["token"]))

    def owner(self, session_id: str) -> Token | None:
        """The token whose account holds a session the gateway created."""
        with required("the owner of a conversation could not be looked up"):
            raw = self.client.hget(self._session_key(session_id), "token")
        return token_from(json.loads(raw)) if raw else None

    def created(self, session_id: str, token: Token) -> None:
        """Track a session the gateway created (and must delete once idle)."""
        with required("a new session could not be recorded"):
            now = time.time()
            pipe = self.client.pipeline()
            pipe.hset(self._session_key(session_id), mapping={"token": json.dumps(token_fields(token)), "busy": 0})
            pipe.expire(self._session_key(session_id), self._forget_seconds)
            pipe.zadd(self._schedule, {session_id: now + self.idle_seconds})
            pipe.zremrangebyscore(self._schedule, "-inf", now - self._forget_seconds)
            pipe.execute()

    def acquire(self, session_id: str) -> None:
        """Mark a session in use, so it is not deleted under a running answer."""
        with best_effort("mark a session busy"):
            self._busy(keys=[self._session_key(session_id), self._schedule],
                       args=[time.time() + BUSY_BOUND_SECONDS, session_id, self._forget_seconds])

    def release(self, session_id: str) -> None:
        """Mark a session no longer in use; its idle time starts now."""
        with best_effort("mark a session idle"):
            self._idle(keys=[self._session_key(session_id), self._schedule],
                       args=[time.time() + self.idle_seconds, session_id, self._forget_seconds])

    def pop_idle(self, limit: int = 1000) -> list[Session]:
        """Forget and return up to `limit` sessions idle for longer than the idle time, each to exactly one caller."""
        found: list = []
        with best_effort("collect idle sessions"):
            # In batches, so one script never blocks Redis long; all that are due, so none pile up between periods.
            while len(found) < 2 * limit:
                batch = min(POP_BATCH, limit - len(found) // 2)
                got = self._pop_idle(keys=[self._schedule], args=[time.time(), self.prefix + "session:", batch])
                found += got
                if len(got) < 2 * batch:   # the schedule held no more that were due (or their records had gone)
                    break
        return [Session(found[i], token_from(json.loads(found[i + 1])), 0.0) for i in range(0, len(found), 2)]

    def tracked(self) -> int:
        """How many sessions are tracked by every worker (at least 1 while Redis cannot say)."""
        # 1, not 0, when Redis cannot say: the janitor keeps going.
        count = 1
        with best_effort("count tracked sessions"):
            count = int(self.client.zcard(self._schedule))
        return count

    def _session_key(self, session_id: str) -> str:
        """The key of one session's record."""
        return self.prefix + "session:" + session_id

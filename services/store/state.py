"""Choose where shared state lives, once per worker: this worker's memory, or Redis for many workers."""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass
from typing import Callable

from services.credentials import Token
from services.pacing import AccountCare, MemoryPaceBook, Pace
from services.pool import TokenPool
from services.store.health import MemoryHealthStore
from services.providers.deepseek_web.conversations import Conversations
from services.settings import Settings
from services.store.keys import StateKeys, configured_keys, random_keys, redis_keys
from services.store.responses import MemoryResponses, ResponseBounds, StoredResponses
from services.tools.emulation import Recollection

log = logging.getLogger("freeseek")


@dataclass
class SharedState:
    """Builds each piece of state on the chosen backend."""

    settings: Settings
    client: object = None        # a redis.Redis when FREESEEK_REDIS_URL is set

    @property
    def shared(self) -> bool:
        """Whether several workers and instances share this state."""
        return self.client is not None

    @functools.cached_property
    def keys(self) -> StateKeys:
        """The keyed hashes per-token and per-caller state is kept under (FREESEEK_STATE_SECRET, else generated:
        kept in Redis for every worker, or random for state in this process's memory)."""
        if self.settings.state_secret:
            return configured_keys(self.settings.state_secret)
        return redis_keys(self.client) if self.shared else random_keys()

    def pool(self, limit_for: Callable[[Token], int], paced: Callable[[Token], bool] = lambda token: False
             ) -> TokenPool:
        """The token pool: in-process queue and health, or leases, queue and health in Redis; the accounts
        `paced` says yes to get account care (services/pacing.py) on the same backend."""
        if not self.shared:
            pool = TokenPool(limit_for=limit_for, store=MemoryHealthStore(time.monotonic), key=self.keys.token)
            pool.care = AccountCare(Pace.from_settings(self.settings), MemoryPaceBook(), paced, time.monotonic)
            return pool
        from services.shared_pool import SharedTokenPool
        from services.store.redis import RedisHealth
        from services.store.redis_leases import RedisLeases
        from services.store.redis_pacing import RedisPaceBook
        pool = SharedTokenPool(limit_for, RedisHealth(self.client),
                               RedisLeases(self.client, self.settings.redis_lease_seconds, self.keys),
                               key=self.keys.token)
        pool.care = AccountCare(Pace.from_settings(self.settings), RedisPaceBook(self.client), paced, time.time)
        return pool

    def conversations(self, provider: str):
        """The web chat's conversation map and sessions to clean up, for one provider."""
        if not self.shared:
            return Conversations(self.settings.web_session_idle_seconds)
        from services.store.redis_conversations import RedisConversations
        return RedisConversations(self.client, self.settings.web_session_idle_seconds,
                                  prefix=f"freeseek:{{{provider}}}:")   # the hash tag: one slot

    def recollection(self, provider: str) -> Recollection:
        """What tool emulation remembers between rounds, for one provider."""
        if not self.shared:
            return Recollection()
        from services.store.redis import RedisValues
        prefix = f"freeseek:{provider}:tools:"
        seconds = self.settings.web_session_idle_seconds + 3600
        return Recollection(RedisValues(self.client, prefix + "answer:", seconds),
                            RedisValues(self.client, prefix + "session:", seconds))

    def responses(self) -> StoredResponses:
        """Stored responses for `previous_response_id`, within the FREESEEK_RESPONSE_STORE_* bounds."""
        bounds = ResponseBounds.of(self.settings)
        if not self.shared:
            return MemoryResponses(bounds)
        from services.store.redis_responses import RedisResponses
        return RedisResponses(self.client, bounds)


def open_state(settings: Settings) -> SharedState:
    """The state backend the settings ask for, with a log line saying which."""
    if not settings.redis_url:
        log.info("shared state in memory: one worker (set FREESEEK_REDIS_URL to run several workers or instances)")
        return SharedState(settings)
    from services.store.redis import check_announcements, connect, describe
    client = connect(settings.redis_url, settings.redis_max_connections)
    check_announcements(client)
    log.info("shared state on Redis at %s: workers and instances act as one gateway (up to %d connections "
             "per worker)", describe(settings.redis_url), settings.redis_max_connections)
    return SharedState(settings, client)

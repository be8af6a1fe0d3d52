"""Shared state on Redis: values with expiry, token health, and the connection every piece shares."""

from __future__ import annotations

import contextlib
import json
import logging
import time
import urllib.parse
from dataclasses import asdict
from typing import Iterator

import redis

from services.credentials import Token
from services.store.health import Health
from services.store import StoreUnavailable
from services.store.keys import POOL_PREFIX

log = logging.getLogger("freeseek")

# Health is kept this long past the end of a token's rest, so consecutive rate limits still lengthen the
# cooldown, and then it expires on its own.
HEALTH_MEMORY_SECONDS = 3600


# Connections per process (FREESEEK_REDIS_MAX_CONNECTIONS): each call holds one for a round trip, so a few dozen
# serve thousands of greenlets; a greenlet past the bound waits for a free one instead of opening one more.
MAX_CONNECTIONS = 32
# How long a call waits for a free connection before it fails as if Redis were away (the 503 of required()):
# past a socket timeout or two of the calls ahead of it, Redis is too slow to wait for.
POOL_WAIT_SECONDS = 5.0
_CONNECTION = dict(socket_timeout=2.0, socket_connect_timeout=2.0, retry_on_timeout=False, health_check_interval=30,
                   decode_responses=True)


def connect(url: str, max_connections: int = MAX_CONNECTIONS, wait_seconds: float | None = None) -> redis.Redis:
    """A client whose every call fails within seconds when Redis is gone or its connections all stay busy (a 503,
    never a hang), on at most `max_connections` connections."""
    pool = redis.BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=POOL_WAIT_SECONDS if wait_seconds is None else wait_seconds,
        **_CONNECTION)
    return redis.Redis(connection_pool=pool)


def subscriber(client: redis.Redis) -> redis.Redis:
    """A client of one connection, beside `client`'s pool, for a pub/sub listener: a subscription holds its
    connection for as long as it listens, which would take a slot from the short calls for good."""
    shared = client.connection_pool
    return redis.Redis(connection_pool=redis.ConnectionPool(
        connection_class=shared.connection_class, max_connections=1, **shared.connection_kwargs))


def check_announcements(client: redis.Redis) -> None:
    """Warn once, at start-up, when the Redis user may not announce freed slots (an ACL without the channels)."""
    try:
        client.publish(POOL_PREFIX + "released", "")   # no waiter listens for the empty key
    except redis.exceptions.NoPermissionError:
        log.warning("shared store: the Redis user may not PUBLISH on the freeseek:* channels (grant it "
                    "'&freeseek:*' for PUBLISH and SUBSCRIBE in its ACL); requests waiting for an account are "
                    "then woken by their 1 s poll instead of at once")
    except redis.RedisError:
        pass   # Redis is away now: each request that needs it gets the 503 that says so


@contextlib.contextmanager
def required(what: str) -> Iterator[None]:
    """Turn a Redis failure into a 503 that names what could not be done."""
    try:
        yield
    except redis.RedisError as exc:
        raise StoreUnavailable(f"The shared store (FREESEEK_REDIS_URL) cannot be reached, so {what}: "
                               f"{type(exc).__name__}.", retry_after=5) from None


@contextlib.contextmanager
def best_effort(what: str) -> Iterator[None]:
    """Log a Redis failure for something the answer does not depend on, and go on."""
    try:
        yield
    except (redis.RedisError, StoreUnavailable) as exc:   # the latter: a step that needed Redis failed first
        log.warning("shared store: could not %s (%s)", what, type(exc).__name__)


def token_fields(token: Token) -> dict:
    """A token as stored, so another worker can use the account (Redis holds the secret: guard it)."""
    return {"provider": token.provider, "secret": token.secret}


def token_from(fields: dict) -> Token:
    """The token stored by token_fields."""
    return Token(fields["provider"], fields["secret"])


class RedisValues:
    """A ResponseStore on Redis (tool memory): JSON values under `prefix`, each expiring `seconds` after it was
    written."""

    def __init__(self, client: redis.Redis, prefix: str, seconds: float):
        self.client, self.prefix, self.seconds = client, prefix, seconds

    def put(self, key: str, value: dict) -> None:
        """Keep value under key until it expires; best effort: it is written once the answer exists, and a
        later round that finds nothing falls back as for any unknown id."""
        with best_effort("keep a value"):
            self.client.set(self.prefix + key, json.dumps(value, ensure_ascii=False), px=int(self.seconds * 1000))

    def get(self, key: str) -> dict | None:
        """The live value under key, or None."""
        with required("a stored value could not be read"):
            raw = self.client.get(self.prefix + key)
        return json.loads(raw) if raw is not None else None


def health_from(raw: str | None) -> Health:
    """A token's health as stored ('' or None: healthy)."""
    return Health(**json.loads(raw)) if raw else Health()


class RedisHealth:
    """Token health seen by every worker (times are wall-clock seconds, the same on every host)."""

    def __init__(self, client: redis.Redis, prefix: str = POOL_PREFIX + "health:"):
        self.client, self.prefix = client, prefix

    def get(self, key: str) -> Health:
        """The token's health; healthy when unknown or when Redis cannot say (leasing then fails with a 503)."""
        raw = None
        with best_effort("read a token's health"):
            raw = self.client.get(self.prefix + key)
        return health_from(raw)

    def put(self, key: str, health: Health) -> None:
        """Remember the token's health for every worker; a healthy token leaves no key."""
        with best_effort("record a token's health"):
            if health.state == "ok" and not health.strikes:
                self.client.delete(self.prefix + key)
                return
            keep = max(1, int(health.unusable_until - time.time()) + HEALTH_MEMORY_SECONDS)
            self.client.set(self.prefix + key, json.dumps(asdict(health)), ex=keep)


def describe(url: str) -> str:
    """The Redis URL without its password, for a log line."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or "localhost"
    return f"{parts.scheme}://{host}:{parts.port or 6379}{parts.path or ''}"

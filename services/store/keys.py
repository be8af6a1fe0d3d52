"""The keys per-token and per-caller state is kept under: full-length keyed hashes, never the short display ref."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
from typing import Callable

from services.credentials import Token

# The token pool's keys in Redis (leases, queues, health, the first-start marker): the hash tag {pool} keeps
# them in one Redis Cluster slot, so the pool's scripts work on a cluster.
POOL_PREFIX = "freeseek:{pool}:"
# Where a generated state secret is kept in Redis, so every worker and instance derives the same keys (in the
# pool's slot: the acquire script checks it).
REDIS_SECRET_KEY = POOL_PREFIX + "state-secret"
# The ready marker: while it exists the leases in Redis can be trusted. Every process refreshes its expiry (one
# lease time) every third of a lease time, so it goes missing after a data loss or when no process reached Redis
# for a lease time; the next acquire then grants nothing for one lease time. Set to 0 on a Redis known to hold
# no slot (a test's or a bench's just started): no first-start wait.
LEASES_READY_KEY = POOL_PREFIX + "leases-ready"


class StateKeys:
    """HMAC-SHA256 under the deployment's state secret (FREESEEK_STATE_SECRET, or one generated and kept)."""

    def __init__(self, load: Callable[[], bytes], generated: bool):
        self._load, self._secret = load, None
        self.generated = generated   # kept in the store, not configured: Redis may lose and replace it
        self._lock = threading.Lock()

    @property
    def secret(self) -> bytes:
        """The state secret, loaded once (a Redis failure is a 503 and the next use tries again)."""
        if self._secret is None:
            with self._lock:
                if self._secret is None:
                    self._secret = self._load()
        return self._secret

    def reload(self) -> None:
        """Read the secret again (Redis lost its data and another worker generated a new one)."""
        with self._lock:
            self._secret = None

    def adopt(self, secret: bytes) -> None:
        """Take the secret Redis holds now (it lost its data and another worker generated a new one)."""
        with self._lock:
            self._secret = secret

    def token(self, token: Token) -> str:
        """The key of a token's health, leases and queue."""
        return token.key(self.secret)

    def caller(self, digest: str) -> str:
        """The key of what a caller stored, from the hash of the credential(s) it presented."""
        return hmac.new(self.secret, b"caller:" + digest.encode(), hashlib.sha256).hexdigest()


def configured_keys(secret: str) -> StateKeys:
    """Keys under the operator's FREESEEK_STATE_SECRET: the same in every process that is given it."""
    value = secret.encode()
    return StateKeys(lambda: value, generated=False)


def redis_keys(client) -> StateKeys:
    """Keys under a secret generated once and kept in Redis (SET NX): every worker and instance agrees."""
    from services.store.redis import required

    def load() -> bytes:
        with required("the state secret could not be read"):
            fresh = secrets.token_hex(32)
            client.set(REDIS_SECRET_KEY, fresh, nx=True)
            return (client.get(REDIS_SECRET_KEY) or fresh).encode()
    return StateKeys(load, generated=True)


def random_keys() -> StateKeys:
    """Keys under a random secret, for state kept in this process's memory, which no other process reads."""
    value = os.urandom(32)
    return StateKeys(lambda: value, generated=True)

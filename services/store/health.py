"""What the pool remembers about each token between requests, and its in-memory home (one worker)."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Protocol

from services.store.memory import sweep


@dataclass
class Health:
    """What the gateway remembers about one token between requests."""

    unusable_until: float = 0.0
    state: str = "ok"           # "ok", "dead", "cooldown" or "rest"
    strikes: int = 0            # consecutive rate limits, for exponential cooldown
    status: int = 0             # HTTP status of the failure that made it unusable
    # The failure that made it unusable (class name, message, code: our messages never hold a secret), so a
    # later refusal can say what happened instead of a generic "cooling down".
    cause: str = ""
    message: str = ""
    code: str | None = None


class HealthStore(Protocol):
    """Where token health lives; in memory by default, one small interface to swap for a shared store."""

    def get(self, key: str) -> Health: ...

    def put(self, key: str, health: Health) -> None: ...


class MemoryHealthStore:
    """Token health in this worker's memory; a health whose rest ended FORGET_SECONDS ago is swept out (its
    strikes with it), so any caller's tokens do not grow the worker."""

    FORGET_SECONDS = 600.0  # as long as a rejected key rests

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._health: OrderedDict[str, Health] = OrderedDict()
        self._clock = clock

    def get(self, key: str) -> Health:
        """Return the token's health (healthy when unknown)."""
        return self._health.get(key) or Health()

    def put(self, key: str, health: Health) -> None:
        """Remember the token's health (forgetting it when healthy)."""
        forget_before = self._clock() - self.FORGET_SECONDS
        sweep(self._health, lambda h: h.unusable_until <= forget_before)
        if health.state == "ok" and not health.strikes and not health.unusable_until:
            self._health.pop(key, None)
        else:
            self._health[key] = health

"""The in-memory store: one worker's state, bounded in time and in count."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Callable


class MemoryStore:
    """Values expire after `seconds`; past `limit` values the oldest go first."""

    def __init__(self, seconds: float, limit: int, clock: Callable[[], float] = time.monotonic):
        self.seconds, self.limit, self.clock = seconds, limit, clock
        self._items: OrderedDict[str, tuple[float, dict]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, key: str, value: dict) -> None:
        """Keep value under key until it expires or is pushed out."""
        with self._lock:
            self._items.pop(key, None)
            self._items[key] = (self.clock() + self.seconds, value)
            self._evict()

    def get(self, key: str) -> dict | None:
        """The live value under key, or None."""
        with self._lock:
            self._evict()
            entry = self._items.get(key)
            return entry[1] if entry else None

    def _evict(self) -> None:
        """Drop expired values, then the oldest past the limit."""
        now = self.clock()
        # Insertion order is expiry order (every value lives as long), so expired ones are at the front.
        while self._items and (len(self._items) > self.limit or next(iter(self._items.values()))[0] <= now):
            self._items.popitem(last=False)


def sweep(entries: OrderedDict, expired: Callable[[object], bool], budget: int = 2) -> None:
    """Look at up to `budget` of the entries least recently looked at: drop the expired, move the others to the
    back. Called once per entry added, it keeps a map of per-account state near its live size at a bounded cost."""
    for _ in range(min(budget, len(entries))):
        key, value = entries.popitem(last=False)
        if not expired(value):
            entries[key] = value

"""Values kept in this worker's memory, bounded in count (the default for state nobody else needs)."""

from __future__ import annotations

import threading
from collections import OrderedDict


class LocalValues:
    """A ResponseStore of at most `limit` values; past that the least recently written go first."""

    def __init__(self, limit: int = 10000):
        self._limit = limit
        self._items: OrderedDict[str, dict] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, key: str, value: dict) -> None:
        """Keep value under key."""
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._limit:
                self._items.popitem(last=False)

    def get(self, key: str) -> dict | None:
        """The value under key, or None."""
        with self._lock:
            return self._items.get(key)

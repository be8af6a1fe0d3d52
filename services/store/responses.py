"""Stored responses for `previous_response_id`: per caller and in total, bounded in time, count and bytes."""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Protocol


@dataclass(frozen=True)
class ResponseBounds:
    """How long and how much is kept: a response is dropped when it expires or when it is the oldest of its
    caller past the caller's bounds, or the oldest of all past the total bounds."""

    seconds: float
    max: int
    max_bytes: int
    caller_max: int
    caller_max_bytes: int

    @classmethod
    def of(cls, settings) -> "ResponseBounds":
        """The bounds the FREESEEK_RESPONSE_STORE_* settings give."""
        return cls(settings.response_store_seconds, settings.response_store_max, settings.response_store_max_bytes,
                   settings.response_store_caller_max, settings.response_store_caller_max_bytes)

    def fits(self, size: int) -> bool:
        """Whether one response of this many bytes may be kept at all."""
        return size <= self.caller_max_bytes and size <= self.max_bytes


class StoredResponses(Protocol):
    """Each caller's responses (the caller is a keyed hash of the credential it presented)."""

    def put(self, caller: str, response_id: str, value: dict) -> bool:
        """Keep value (JSON) for the caller; False when it is larger than the bounds allow (nothing kept)."""

    def get(self, caller: str, response_id: str) -> dict | None:
        """The caller's value under the id, or None when unknown, expired, evicted, or another caller's."""


def encoded(value: dict) -> str:
    """A value as kept, whose UTF-8 length is what the byte bounds count (the same on both backends)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class MemoryResponses:
    """StoredResponses in this worker's memory, kept as encoded bytes, so the byte bounds are what they hold."""

    def __init__(self, bounds: ResponseBounds, clock: Callable[[], float] = time.monotonic):
        self.bounds, self.clock = bounds, clock
        # Insertion order is age and expiry order (every response lives as long).
        self._items: OrderedDict[tuple[str, str], tuple[float, bytes, int]] = OrderedDict()
        self._callers: dict[str, OrderedDict[str, int]] = {}   # caller -> its ids (oldest first) -> size
        self._caller_bytes: dict[str, int] = {}
        self._bytes = 0
        self._lock = threading.Lock()

    def put(self, caller: str, response_id: str, value: dict) -> bool:
        """Keep the value, then drop the caller's oldest past its bounds and the oldest of all past the total."""
        text = encoded(value).encode()
        size = len(text)
        with self._lock:
            self._expire()
            self._drop((caller, response_id))
            if not self.bounds.fits(size):
                return False
            self._items[(caller, response_id)] = (self.clock() + self.bounds.seconds, text, size)
            self._callers.setdefault(caller, OrderedDict())[response_id] = size
            self._caller_bytes[caller] = self._caller_bytes.get(caller, 0) + size
            self._bytes += size
            mine = self._callers[caller]
            while len(mine) > self.bounds.caller_max or self._caller_bytes[caller] > self.bounds.caller_max_bytes:
                self._drop((caller, next(iter(mine))))
            while len(self._items) > self.bounds.max or self._bytes > self.bounds.max_bytes:
                self._drop(next(iter(self._items)))
            return True

    def get(self, caller: str, response_id: str) -> dict | None:
        """The caller's live value under the id, or None."""
        with self._lock:
            self._expire()
            entry = self._items.get((caller, response_id))
        return json.loads(entry[1]) if entry else None

    def _expire(self) -> None:
        """Drop the expired responses (the oldest ones)."""
        now = self.clock()
        while self._items and next(iter(self._items.values()))[0] <= now:
            self._drop(next(iter(self._items)))

    def _drop(self, key: tuple[str, str]) -> None:
        """Forget one response and what it counted for."""
        entry = self._items.pop(key, None)
        if entry is None:
            return
        caller, response_id = key
        size = entry[2]
        self._bytes -= size
        mine = self._callers[caller]
        del mine[response_id]
        self._caller_bytes[caller] -= size
        if not mine:
            del self._callers[caller], self._caller_bytes[caller]

"""Wake waiters in this process when any process frees a slot: one subscriber connection per process, beside the
bounded pool of the short calls."""

from __future__ import annotations

import logging
import threading
import time

import redis

from services.store.redis import subscriber

log = logging.getLogger("freeseek")


class Waiting:
    """One waiter's doorbell: rung when a slot on one of its accounts is freed anywhere."""

    def __init__(self, bell: "ReleaseBell", keys: list[str]):
        self.bell, self.keys, self.rung = bell, keys, threading.Event()

    def wait(self, seconds: float, cancelled: threading.Event | None = None) -> None:
        """Return when rung, cancelled, or after `seconds` (a lost message costs at most that long)."""
        end = time.monotonic() + max(0.0, seconds)
        while not self.rung.is_set() and not (cancelled is not None and cancelled.is_set()):
            left = end - time.monotonic()
            if left <= 0:
                break
            # Checked in slices: the request's cancellation is an event of its own, set by the HTTP side.
            self.rung.wait(min(left, self.bell.CANCEL_CHECK_SECONDS))
        self.rung.clear()

    def close(self) -> None:
        """Stop listening for this waiter."""
        self.bell.forget(self)


class ReleaseBell:
    """Listens on the channel the release script publishes to, and rings the local waiters of the freed account;
    the listener connects on first use and reconnects after a failure (waiters then fall back to their poll)."""

    CANCEL_CHECK_SECONDS = 0.1

    def __init__(self, client: redis.Redis, channel: str):
        self.client, self.channel = subscriber(client), channel
        self.subscribed = threading.Event()   # set while the listener receives: a test can wait for it
        self._waiting: dict[str, set[Waiting]] = {}
        self._lock = threading.Lock()
        self._listener: threading.Thread | None = None

    def listen(self, keys: list[str]) -> Waiting:
        """A doorbell for a waiter on these accounts' leases keys, ringing from now on."""
        waiting = Waiting(self, keys)
        with self._lock:
            for key in keys:
                self._waiting.setdefault(key, set()).add(waiting)
            if self._listener is None:
                self._listener = threading.Thread(target=self._listen, name="release-bell", daemon=True)
                self._listener.start()
        return waiting

    def forget(self, waiting: Waiting) -> None:
        """Stop ringing this waiter."""
        with self._lock:
            for key in waiting.keys:
                group = self._waiting.get(key)
                if group is not None:
                    group.discard(waiting)
                    if not group:
                        del self._waiting[key]

    def ring(self, key: str) -> None:
        """Wake every local waiter on the account whose leases key this is."""
        with self._lock:
            group = list(self._waiting.get(key, ()))
        for waiting in group:
            waiting.rung.set()

    def _ring_all(self) -> None:
        """Wake every local waiter to ask again."""
        with self._lock:
            groups = [list(group) for group in self._waiting.values()]
        for group in groups:
            for waiting in group:
                waiting.rung.set()

    def _listen(self) -> None:
        """Receive release messages while any waiter here listens, reconnecting after a failure."""
        lost = False
        while True:
            pubsub = self.client.pubsub()
            try:
                pubsub.subscribe(self.channel)
                while True:
                    message = pubsub.get_message(timeout=1.0)
                    if message is not None and message["type"] == "subscribe":
                        self.subscribed.set()
                        lost = False
                        self._ring_all()   # a release while we were not listening is not missed
                    elif message is not None and message["type"] == "message":
                        self.ring(message["data"])
                    if self._idle(pubsub):
                        return
            except (redis.RedisError, OSError) as exc:
                self.subscribed.clear()
                if not lost:
                    log.warning("shared store: release announcements lost (%s); waiters ask at their slow pace",
                                type(exc).__name__)
                lost = True
                if self._idle(pubsub):
                    return
                time.sleep(1.0)   # Redis is away: try again at the waiters' own pace
            finally:
                pubsub.close()

    def _idle(self, pubsub: redis.client.PubSub) -> bool:
        """Stop listening when no waiter is left here (the next waiter starts a listener again)."""
        with self._lock:
            if self._waiting:
                return False
            pubsub.close()   # now: the subscriber's one connection is free for the next listener
            self._listener = None
            self.subscribed.clear()
            return True

"""Deleting idle web sessions at a person's pace per account: different accounts side by side, one account's
sessions one at a time with a gap."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Callable, Iterable

from services.credentials import Token
from services.providers.deepseek_web.conversations import Session

log = logging.getLogger("freeseek")

# Deletions under way at once, each on a different account: many accounts' backlogs drain side by side, while
# a worker's burst of calls to the web chat stays small.
LANES = 8
# Sessions a worker took from the schedule and has not deleted yet: past this the janitor takes no more, so its
# memory stays bounded and (on Redis) other workers take the rest.
MAX_WAITING = 1000


class Deletions:
    """Sessions waiting for deletion, per account: up to `lanes` threads delete them, never two deletions on one
    account closer than `gap` seconds (from the end of one to the start of the next)."""

    def __init__(self, delete: Callable[[Session], None], gap: float, lanes: int = LANES,
                 clock: Callable[[], float] = time.monotonic):
        self.delete, self.gap, self.lanes, self.clock = delete, gap, lanes, clock
        self._waiting: dict[Token, deque[Session]] = {}   # accounts with sessions to delete, each in arrival order
        self._free_at: dict[Token, float] = {}            # account -> earliest start of its next deletion
        self._busy: set[Token] = set()                    # accounts with a deletion under way
        self._lanes = 0
        self._changed = threading.Condition()

    def waiting(self) -> int:
        """How many sessions wait for deletion here."""
        with self._changed:
            return sum(len(sessions) for sessions in self._waiting.values())

    def add(self, sessions: Iterable[Session]) -> None:
        """Delete these sessions, each on its account's pace."""
        with self._changed:
            for session in sessions:
                self._waiting.setdefault(session.token, deque()).append(session)
            more = max(0, min(self.lanes, len(self._waiting)) - self._lanes)
            self._lanes += more
            self._changed.notify_all()
        for _ in range(more):
            threading.Thread(target=self._lane, name="session-deletions", daemon=True).start()

    def _lane(self) -> None:
        """Delete sessions of whichever account may go next, until none waits."""
        while (session := self._next()) is not None:
            try:
                self.delete(session)
            except Exception as exc:   # the session stays in the user's history; the other deletions go on
                log.info("deleting a session of %s failed: %s", session.token.ref, getattr(exc, "message", exc))
            finally:
                with self._changed:
                    self._busy.discard(session.token)
                    self._free_at[session.token] = self.clock() + self.gap
                    self._changed.notify_all()

    def _next(self) -> Session | None:
        """The next session whose account is free and past its gap, waiting for one; None when none waits."""
        with self._changed:
            while self._waiting:
                now = self.clock()
                # Gaps already over say nothing more: forgotten, so the map keeps only recent accounts.
                self._free_at = {token: at for token, at in self._free_at.items() if at > now}
                ready = [(self._free_at.get(token, now), token) for token in self._waiting if token not in self._busy]
                at, token = min(ready, key=lambda pair: pair[0], default=(None, None))
                if token is not None and at <= now:
                    sessions = self._waiting[token]
                    session = sessions.popleft()
                    if not sessions:
                        del self._waiting[token]
                    self._busy.add(token)
                    return session
                # Every waiting account is busy or resting: woken by a deletion's end, or when the first rest ends.
                self._changed.wait(None if token is None else at - now)
            self._lanes -= 1
            return None

"""Remember answered conversations so a client that resends its history continues the same upstream session."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

from services.credentials import Token
from services.prompt import message_text
from services.store.memory import sweep

_FOLDED = re.compile(r"^\s*<details>.*?</details>\s*", re.S)

# A week: how long after its last use a session nobody deleted (deletion off, or an answer whose end never came)
# is still remembered, far past any idle time the janitor waits for.
FORGET_AFTER_SECONDS = 7 * 86400


def forget_after(idle_seconds: float) -> float:
    """Seconds after its last use a tracked session is forgotten even if never deleted: a week, or four idle
    times when FREESEEK_WEB_SESSION_IDLE_SECONDS is set longer than that allows."""
    return max(FORGET_AFTER_SECONDS, 4 * idle_seconds)


@dataclass
class Session:
    """An upstream chat session the gateway created, on the account that owns it."""

    id: str
    token: Token
    last_used: float
    busy: int = 0


@dataclass(frozen=True)
class Turn:
    """A point a continuation attaches to: the session and its last assistant message."""

    session_id: str
    message_id: int
    token: Token


def fingerprint(messages: list[dict]) -> str:
    """A hash of a conversation's roles and texts (folded reasoning and outer spaces ignored)."""
    normal = []
    for message in messages:
        role = message.get("role")
        role = "system" if role in ("system", "developer") else role if role == "assistant" else "user"
        text = message_text(message.get("content"))
        if role == "assistant":
            text = _FOLDED.sub("", text)
        normal.append([role, text.strip()])
    return hashlib.sha256(json.dumps(normal, ensure_ascii=False).encode()).hexdigest()


class Conversations:
    """Turns by fingerprint, and the sessions they live in, with idle expiry (in this worker's memory)."""

    def __init__(self, idle_seconds: float, clock: Callable[[], float] = time.monotonic, max_turns: int = 10000):
        self.idle_seconds, self._clock, self._max_turns = idle_seconds, clock, max_turns
        self._turns: OrderedDict[str, Turn] = OrderedDict()
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._forget_after = forget_after(idle_seconds)
        self._lock = threading.Lock()

    def remember(self, messages: list[dict], answer: str, turn: Turn) -> None:
        """Record that this conversation, with this answer appended, ended at `turn`."""
        key = fingerprint(messages + [{"role": "assistant", "content": answer}])
        with self._lock:
            self._turns[key] = turn
            self._turns.move_to_end(key)
            while len(self._turns) > self._max_turns:
                self._turns.popitem(last=False)

    def match(self, messages: list[dict]) -> Turn | None:
        """The turn whose conversation equals this request's history (all but its last user message)."""
        if len(messages) < 3 or messages[-1].get("role") != "user":
            return None
        with self._lock:
            turn = self._turns.get(fingerprint(messages[:-1]))
            return turn if turn and turn.session_id in self._sessions else None

    def owner(self, session_id: str) -> Token | None:
        """The token whose account holds a session the gateway created."""
        with self._lock:
            session = self._sessions.get(session_id)
            return session.token if session else None

    def created(self, session_id: str, token: Token) -> None:
        """Track a session the gateway created (and must delete once idle)."""
        now = self._clock()
        with self._lock:
            self._sessions[session_id] = Session(session_id, token, now)
            # The backstop: sessions the janitor never takes (deletion off) do not stay forever.
            sweep(self._sessions, lambda session: now - session.last_used >= self._forget_after)

    def acquire(self, session_id: str) -> None:
        """Mark a session in use, so it is not deleted under a running answer."""
        with self._lock:
            session = self._sessions.get(session_id)
            if session:
                session.busy += 1
                session.last_used = self._clock()

    def release(self, session_id: str) -> None:
        """Mark a session no longer in use; its idle time starts now."""
        with self._lock:
            session = self._sessions.get(session_id)
            if session:
                session.busy = max(0, session.busy - 1)
                session.last_used = self._clock()

    def pop_idle(self, limit: int = 1000) -> list[Session]:
        """Forget and return up to `limit` sessions idle for longer than the idle time."""
        now = self._clock()
        with self._lock:
            idle = [s for s in self._sessions.values() if not s.busy and now - s.last_used >= self.idle_seconds]
            idle = idle[:limit]
            for session in idle:
                del self._sessions[session.id]
            gone = {s.id for s in idle}
            for key in [k for k, turn in self._turns.items() if turn.session_id in gone]:
                del self._turns[key]
            return idle

    def tracked(self) -> int:
        """How many sessions are tracked."""
        with self._lock:
            return len(self._sessions)

"""Account care for web-chat accounts: a person's pace per account, expressed to the pool as a rest."""

from __future__ import annotations

import math
import random
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Callable, Protocol

from services.credentials import Token
from services.errors import GatewayError
from services.store.memory import sweep

HOUR, DAY = 3600.0, 86400.0
GAP, JITTER = "FREESEEK_WEB_MIN_GAP_SECONDS", "FREESEEK_WEB_GAP_JITTER_SECONDS"
HOURLY, DAILY = "FREESEEK_WEB_HOURLY_BUDGET", "FREESEEK_WEB_DAILY_BUDGET"
PENALTY = "FREESEEK_WEB_PENALTY_FACTOR"


@dataclass(frozen=True)
class Pace:
    """How fast one web account may be used (a limit of 0 is off); README says why these defaults."""

    min_gap: float = 6.0          # seconds between the end of one answer and the start of the next...
    jitter: float = 6.0           # ...plus a random part up to this, so the rhythm is not a machine's
    hourly: int = 30              # answers started in any rolling hour
    daily: int = 200              # answers started in any rolling day
    penalty_factor: float = 0.5   # budgets are multiplied by this after a mute or ban...
    penalty_days: float = 7.0     # ...for this many days after it ends

    @classmethod
    def from_settings(cls, s) -> "Pace":
        """The pace the operator configured."""
        return cls(s.web_min_gap_seconds, s.web_gap_jitter_seconds, s.web_hourly_budget, s.web_daily_budget,
                   s.web_penalty_factor, s.web_penalty_days)


@dataclass
class Hold:
    """An account may not start an answer before `until` (the pool's clock): a rest with this cause."""

    until: float
    message: str
    cause: str = "RateLimited"
    status: int = 429
    code: str = "account_paced"


class PaceBook(Protocol):
    """Where each account's starts, next allowed start and history live (this worker's memory, or Redis)."""

    def start(self, key: str, now: float, hourly: int, daily: int, count: bool = True) -> tuple[str, float]:
        """Atomically: ("ok", 0) and (when `count`) count a start now, or the limit that holds ("gap",
        "hourly", "daily") and when it ends."""

    def end(self, key: str, next_start: float) -> None:
        """The account's next answer may not start before next_start."""

    def usage(self, key: str, now: float) -> tuple[int, int, float]:
        """Starts in the last hour, in the last day, and the next allowed start."""

    def history(self, key: str) -> dict:
        """The account's remembered mutes and bans (empty when none)."""

    def checked_start(self, key: str, now: float, budgets: tuple[int, int], reduced: tuple[int, int], wall: float,
                      count: bool) -> tuple[dict, str, float]:
        """The account's history and, in the same step, start() under `budgets`, or under `reduced` while the
        history's penalty lasts past `wall` (one round trip on Redis)."""

    def record(self, key: str, history: dict, seconds: float) -> None:
        """Keep the account's history for `seconds`."""


class MemoryPaceBook:
    """Pace and history in this worker's memory (one worker: the default)."""

    def __init__(self) -> None:
        # Accounts are any caller's tokens on a server that holds none: entries whose state has expired are
        # swept out a few at a time (see sweep), so memory follows the accounts in use, not all ever seen.
        self._starts: OrderedDict[str, deque] = OrderedDict()
        self._next: OrderedDict[str, float] = OrderedDict()
        self._history: OrderedDict[str, tuple[float, dict]] = OrderedDict()   # (expiry on time.time, history)
        self._lock = threading.Lock()

    def start(self, key: str, now: float, hourly: int, daily: int, count: bool = True) -> tuple[str, float]:
        """Count a start now (when `count`), or say which limit holds the account back and until when."""
        with self._lock:
            sweep(self._next, lambda next_start: next_start <= now)
            sweep(self._starts, lambda times: not times or times[-1] <= now - DAY)
            if self._next.get(key, 0.0) > now:
                return "gap", self._next[key]
            starts = self._starts.get(key) or deque()
            while starts and starts[0] <= now - DAY:
                starts.popleft()
            if daily and len(starts) >= daily:
                return "daily", starts[len(starts) - daily] + DAY
            hour = [t for t in starts if t > now - HOUR]
            if hourly and len(hour) >= hourly:
                return "hourly", hour[len(hour) - hourly] + HOUR
            if count and (hourly or daily):  # without budgets nothing needs counting
                starts.append(now)
                self._starts[key] = starts
            return "ok", 0.0

    def end(self, key: str, next_start: float) -> None:
        """Set the next allowed start (never earlier than one already set)."""
        with self._lock:
            self._next[key] = max(self._next.get(key, 0.0), next_start)

    def usage(self, key: str, now: float) -> tuple[int, int, float]:
        """Starts in the last hour and day, and the next allowed start."""
        with self._lock:
            starts = list(self._starts.get(key, ()))
            return (sum(t > now - HOUR for t in starts), sum(t > now - DAY for t in starts),
                    self._next.get(key, 0.0))

    def history(self, key: str) -> dict:
        """The account's history (a copy)."""
        with self._lock:
            expires, history = self._history.get(key, (0.0, {}))
            return dict(history) if expires > time.time() else {}

    def checked_start(self, key: str, now: float, budgets: tuple[int, int], reduced: tuple[int, int], wall: float,
                      count: bool) -> tuple[dict, str, float]:
        """The account's history, and start() under the budgets it calls for."""
        history = self.history(key)
        hourly, daily = reduced if (history.get("penalty_until") or 0.0) > wall else budgets
        return (history, *self.start(key, now, hourly, daily, count))

    def record(self, key: str, history: dict, seconds: float) -> None:
        """Keep the history for `seconds` (the longest a penalty lasts, and a month more)."""
        with self._lock:
            sweep(self._history, lambda entry: entry[0] <= time.time())
            self._history[key] = (time.time() + seconds, dict(history))


class AccountCare:
    """Decides whether a web account may start an answer now, and remembers its mutes and bans."""

    def __init__(self, pace: Pace, book: PaceBook, applies: Callable[[Token], bool],
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time):
        self.pace, self.book, self.applies, self.clock, self.wall = pace, book, applies, clock, wall

    def admit(self, key: str, token: Token) -> Hold | None:
        """None when the account may start an answer now, else what holds it back; nothing is counted yet:
        a lease that never sends its answer (a refused session or challenge) spends no budget."""
        if not self.applies(token):
            return None
        history, verdict, until = self._checked(key, count=False)
        mute = history.get("last_mute") or {}
        if mute.get("until") and mute["until"] > self.wall():
            # Known muted (from a refusal or users/current): nothing is sent before the mute ends.
            return Hold(self._pool_time(mute["until"]), mute.get("cause") or f"{token.provider}: account "
                        f"{token.ref} is muted.", "Forbidden", 403, "account_muted")
        return self._held(token, history, verdict, until)

    def started(self, key: str, token: Token) -> Hold | None:
        """The answer's request is about to go out: count it (None), or what holds the account back since
        its lease was granted (another answer on it ended or started meanwhile); then nothing is sent."""
        if not self.applies(token):
            return None
        return self._held(token, *self._checked(key, count=True))

    def _checked(self, key: str, count: bool) -> tuple[dict, str, float]:
        """The account's history, and whether an answer may start now under its budgets (counted when `count`)."""
        return self.book.checked_start(key, self.clock(), self.budgets({}), self.budgets({"penalty_until": math.inf}),
                                       self.wall(), count)

    def _held(self, token: Token, history: dict, verdict: str, until: float) -> Hold | None:
        """The hold a verdict of the book makes (None: the answer may start)."""
        if verdict == "ok":
            return None
        hourly, daily = self.budgets(history)
        return Hold(until, f"{token.provider}: account {token.ref} is paced: " + self._why(verdict, hourly, daily,
                                                                                         history))

    def ended(self, key: str, token: Token) -> Hold | None:
        """An answer on the account ended: its gap starts now; returns the hold the gap makes (None: no gap)."""
        if not self.applies(token) or (self.pace.min_gap <= 0 and self.pace.jitter <= 0):
            return None
        until = self.clock() + self.pace.min_gap + random.uniform(0.0, max(0.0, self.pace.jitter))
        self.book.end(key, until)
        return Hold(until, f"{token.provider}: account {token.ref} is paced: " + self._why("gap", 0, 0, {}))

    def penalised(self, key: str, token: Token, error: GatewayError) -> None:
        """Remember a mute or ban the web chat stated; the account's budgets shrink for a while after it."""
        kind = {"account_muted": "last_mute", "account_banned": "last_ban"}.get(error.code or "")
        if kind is None or not self.applies(token):
            return
        wall = self.wall()
        length = error.retry_after if kind == "last_mute" else None
        until = wall + length if length else None
        history = self.book.history(key)
        before = history.get(kind) or {}
        if kind == "last_mute" and until and before.get("until") and abs(before["until"] - until) < 60:
            return  # the same mute, met again by another request
        history[kind] = {"at": wall, "until": until, "length": length, "cause": error.message}
        penalty = (until or wall) + self.pace.penalty_days * DAY
        history["penalty_until"] = max(history.get("penalty_until") or 0.0, penalty)
        self.book.record(key, history, history["penalty_until"] - wall + 30 * DAY)

    def budgets(self, history: dict) -> tuple[int, int]:
        """The hourly and daily budgets now: smaller while a mute's or ban's penalty lasts."""
        hourly, daily = self.pace.hourly, self.pace.daily
        if (history.get("penalty_until") or 0.0) > self.wall():
            factor = self.pace.penalty_factor
            hourly, daily = (max(1, math.floor(b * factor)) if b else 0 for b in (hourly, daily))
        return hourly, daily

    def view(self, key: str, token: Token) -> dict | None:
        """The account's pace for people: budget left this hour and day, next allowed start, last mute and ban."""
        if not self.applies(token):
            return None
        history = self.book.history(key)
        hourly, daily = self.budgets(history)
        now = self.clock()
        hour, day, next_start = self.book.usage(key, now)
        penalty, wall = history.get("penalty_until") or 0.0, self.wall()
        # The next allowed start, in wall-clock time: after the gap, and after a known mute.
        starts = [wall + next_start - now if next_start > now else 0.0, (history.get("last_mute") or {}).get("until")]
        next_allowed = max((t for t in starts if t and t > wall), default=None)
        return {"hourly_budget": hourly or None, "daily_budget": daily or None,
                "hour_left": max(0, hourly - hour) if hourly else None,
                "day_left": max(0, daily - day) if daily else None,
                "next_start": next_allowed,
                "reduced_until": penalty if penalty > wall else None,
                "last_mute": history.get("last_mute"), "last_ban": history.get("last_ban")}

    def _pool_time(self, wall_time: float) -> float:
        """A wall-clock moment on the pool's clock."""
        return self.clock() + wall_time - self.wall()

    def _why(self, verdict: str, hourly: int, daily: int, history: dict) -> str:
        """What limit holds the account back, naming the setting behind it."""
        p = self.pace
        reduced = ""
        if (history.get("penalty_until") or 0.0) > self.wall():
            reduced = (f", reduced by {PENALTY}={p.penalty_factor:g} after a mute or ban until "
                       f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(history['penalty_until']))}")
        if verdict == "hourly":
            return f"it started its {hourly} answers of the last hour ({HOURLY}={p.hourly}{reduced})."
        if verdict == "daily":
            return f"it started its {daily} answers of the last day ({DAILY}={p.daily}{reduced})."
        return f"its next answer waits a person's pause after the last one ({GAP}={p.min_gap:g} plus up to " \
               f"{JITTER}={p.jitter:g})."

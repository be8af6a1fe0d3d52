"""One request's life upstream, as the HTTP side sees it: runs, keep-alive ticks, deadlines, hand-overs between
the request's greenlet and a producer, and cancellation (the steps themselves: services/relay_steps.py)."""

from __future__ import annotations

import queue
import threading
import time
from typing import Callable, Iterator

from services.attempt import Attempt, RunStats
from services.chat_call import ChatCall
from services.credentials import Token
from services.deadlines import deadline_passed
from services.errors import ClientGone
from services.offload import start_background
from services.pool import TokenPool
from services.relay_steps import END, SILENCE, TO_PRODUCER, TO_REQUEST, Failure, UpstreamSteps
from services.settings import Settings

HEARTBEAT = object()   # yielded by RelayRun.events() when a keep-alive is due (never before an upstream accepted)
FLUSH = object()       # yielded by RelayRun.events() when the upstream has nothing more for now (see RelayRun.inline)
# Deadlines and the client's connection are checked after this much silence (deadlines at least this often
# while events flow): a client gone quiet is noticed within 2 s, and a flowing stream costs no wake-ups.
CHECK_SECONDS = 1.0


class Relay:
    """Starts runs; holds what every run shares (pool, adapters, settings)."""

    def __init__(self, settings: Settings, pool: TokenPool, adapter_for: Callable[[str], object]):
        self.settings, self.pool, self.adapter_for = settings, pool, adapter_for
        self.runs: set[RelayRun] = set()   # in flight, for a worker that shuts down

    def start(self, call: ChatCall, tokens: list[Token]) -> "RelayRun":
        """A run of the call, which starts working when its events are first read."""
        run = RelayRun(self, call, tokens)
        self.runs.add(run)
        return run


class RelayRun(UpstreamSteps):
    """A call in flight, as one generator of steps (`_steps`). The HTTP side carries them from the start:
    it leases a free token, waits for the answer to open with timeouts and reads it with wake-ups, so a
    stream holds one greenlet. A producer thread (a greenlet under gevent) takes them over only while they
    block without waking (a wait in the token queue, a whole answer, the web chat's rounds), feeding a queue
    the HTTP side reads, and hands them back when an answer that can be read with wake-ups opens."""

    __slots__ = ("relay", "call", "tokens", "settings", "stats", "started", "_queue", "_lock", "_attempt",
                 "_cancelled", "_content_started", "_steps_gen", "_steps_inline", "_last_check", "_next_beat",
                 "inline", "_handed_over", "_abandoned", "_accepted", "_committed", "_budget_end", "__weakref__")

    def __init__(self, relay: Relay, call: ChatCall, tokens: list[Token]):
        self.relay, self.call, self.tokens = relay, call, tokens
        self.settings = relay.settings
        self.stats = RunStats()
        self.started = time.monotonic()
        self._queue: queue.SimpleQueue | None = None   # while a producer carries the steps
        self._lock = threading.Lock()
        self._attempt: Attempt | None = None
        self._cancelled = threading.Event()
        self._content_started = False
        self._steps_gen = self._try_tokens()
        self._steps_inline = True      # the steps' own knowledge that the HTTP side carries them now
        self._handed_over = False      # a producer queued TO_REQUEST: the steps wait for the HTTP side
        self._abandoned = False        # the HTTP side stopped reading: nobody will take the steps over
        self._last_check = self._next_beat = 0.0
        # The status rule: nothing is written until an upstream accepted the request (an attempt's answer
        # opened: 2xx headers, or the web chat's completion stream). Until the HTTP side has written (a
        # keep-alive, or a streamed event), the waits before acceptance share the pre-commit budget.
        self._accepted = False     # the current attempt's answer is open
        self._committed = False    # the HTTP side has been given something to write: its status is sent
        self._budget_end = self.started + self.settings.precommit_seconds
        # Whether the HTTP side carries the steps now, told by their markers only (a producer may still be
        # running them). Only then may it hold rendered events until FLUSH: it reads the upstream itself, which
        # says when a burst is over (fewer, larger writes: a send per event cost ~15% of CPU).
        self.inline = True

    # ---- the HTTP side -------------------------------------------------------------------------------

    def events(self, client_gone: Callable[[], bool] = lambda: False) -> Iterator:
        """Yield the answer's events and HEARTBEAT when a keep-alive is due; raise the run's final error."""
        s = self.settings
        self._last_check = time.monotonic()
        self._next_beat = self._last_check + s.first_heartbeat
        sent = False     # an event went out: from then on, silences are points to flush what is held
        try:
            while True:
                if self.inline:
                    item = self._step()
                else:
                    try:
                        item = self._queue.get(timeout=self._idle())
                    except queue.Empty:
                        item = SILENCE
                if item is TO_REQUEST:
                    self.inline, self._handed_over = True, False
                    self._queue = None  # 2 KiB less for as long as the answer streams
                    continue
                if item is TO_PRODUCER:
                    self.inline = False
                    self._hand_to_producer()
                    continue
                now = time.monotonic()
                if now - self._last_check >= CHECK_SECONDS:
                    self._last_check = now
                    self._enforce_deadlines(now)
                    # While output flows, a failed write tells us the client left instead.
                    if item is SILENCE and client_gone():
                        raise ClientGone()
                if item is SILENCE:
                    if now >= self._next_beat and self._may_commit():
                        self._next_beat = now + s.heartbeat
                        self._committed = True
                        yield HEARTBEAT
                    elif sent:
                        yield FLUSH
                    continue
                if item is END:
                    return
                if isinstance(item, Failure):
                    raise item.error
                if self.call.stream:
                    self._committed = True   # a streamed event is written: the body's first byte, or a byte more
                    self._next_beat = now + s.heartbeat
                elif now >= self._next_beat:
                    # A whole answer being gathered writes nothing: its keep-alives are due while events flow
                    # too (a platform cuts a response whose first byte takes 30 s, whatever the upstream does).
                    self._next_beat = now + s.heartbeat
                    self._committed = True
                    yield HEARTBEAT
                sent = True
                yield item
        finally:
            with self._lock:
                self._abandoned = True
                ours = self.inline or self._handed_over
            if ours:
                self._steps_gen.close()  # we carry the steps (or they wait for us): free the upstream now
                self.relay.runs.discard(self)
            else:
                self.cancel()  # a producer carries them: stop it, and it frees the upstream itself

    def _may_commit(self) -> bool:
        """Whether a keep-alive may go out: the status is sent already, or an upstream accepted the request."""
        return self._committed or self._accepted

    def _budget_spent(self) -> bool:
        """Whether a request whose status is not sent has used up its pre-commit budget."""
        return not self._committed and time.monotonic() >= self._budget_end

    def _idle(self) -> float:
        """Seconds until the next keep-alive or deadline check is due."""
        beat = self._next_beat if self._may_commit() else float("inf")
        return max(0.0, min(beat, self._last_check + CHECK_SECONDS) - time.monotonic())

    def _hand_to_producer(self) -> None:
        """Carry the steps on in a producer thread, which feeds the queue until they end or come back."""
        # SimpleQueue: gevent swaps it for a light semaphore-based queue (queue.Queue's Condition allocates
        # a lock per wait, which showed in profiles with thousands of streams).
        feed = self._queue = queue.SimpleQueue()

        def produce() -> None:
            while True:
                item = self._step()
                if item is TO_REQUEST:
                    with self._lock:
                        handing = not self._abandoned
                        self._handed_over = handing
                    if handing:
                        feed.put(item)
                        return  # the HTTP side resumes the steps from here
                    self._steps_gen.close()  # the HTTP side left meanwhile: nobody would resume them
                    self.relay.runs.discard(self)
                    return
                feed.put(item)
                if item is END or isinstance(item, Failure):
                    return
        start_background(produce)

    def cancel(self) -> None:
        """Stop the run at once: abort the upstream read and free the token."""
        self._cancelled.set()
        with self._lock:
            if self._attempt is not None:
                self._attempt.abort()

    def _enforce_deadlines(self, now: float) -> None:
        """Abort the current attempt when a deadline passed; the producer then reports it."""
        with self._lock:
            attempt = self._attempt
            if attempt is None or attempt.abort_error is not None:
                return
            error = deadline_passed(self.settings, attempt, now, self.started,
                                    not self._committed and not self._accepted and now >= self._budget_end)
            if error is not None:
                attempt.abort_error = error
                attempt.abort()

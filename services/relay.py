"""One request's life upstream: leasing tokens, failover, deadlines, keep-alive ticks and cancellation."""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterator

from services.attempt import Attempt, RunStats
from services.chat_call import ChatCall
from services.credentials import Token
from services.deadlines import deadline_passed
from services.errors import ClientGone, GatewayError
from services.events import HeldContent, KeepAlive, Text, ToolCallDelta
from services.failover import most_telling
from services.offload import start_background
from services.pool import TokenPool
from services.settings import Settings

log = logging.getLogger("freeseek")

HEARTBEAT = object()   # yielded by RelayRun.events() when a keep-alive is due (never before an upstream accepted)
FLUSH = object()       # yielded by RelayRun.events() when the upstream has nothing more for now (see RelayRun.inline)
_END = object()
# Where the run's steps are carried on (see RelayRun): to a producer for the phases that block without
# waking (a wait in the token queue, a whole answer), back to the request's own greenlet once an answer can
# be read there.
_TO_REQUEST, _TO_PRODUCER = object(), object()
_SILENCE = object()    # an inline read woke with nothing new: time to look at deadlines and keep-alives
# Deadlines and the client's connection are checked after this much silence (deadlines at least this often
# while events flow): a client gone quiet is noticed within 2 s, and a flowing stream costs no wake-ups.
CHECK_SECONDS = 1.0

# A rate-limited token is tried again once its cooldown ends (if that is within the queue timeout and, before
# the status is sent, the pre-commit budget), at most this often per request: waiting beats failing,
# hammering does not.
RATE_LIMIT_RETRIES = 2


class Cancelled(Exception):
    """The run was cancelled because its client left."""


@dataclass
class _Failure:
    error: GatewayError


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


class RelayRun:
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
        self._handed_over = False      # a producer queued _TO_REQUEST: the steps wait for the HTTP side
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
                        item = _SILENCE
                if item is _TO_REQUEST:
                    self.inline, self._handed_over = True, False
                    self._queue = None  # 2 KiB less for as long as the answer streams
                    continue
                if item is _TO_PRODUCER:
                    self.inline = False
                    self._hand_to_producer()
                    continue
                now = time.monotonic()
                if now - self._last_check >= CHECK_SECONDS:
                    self._last_check = now
                    self._enforce_deadlines(now)
                    # While output flows, a failed write tells us the client left instead.
                    if item is _SILENCE and client_gone():
                        raise ClientGone()
                if item is _SILENCE:
                    if now >= self._next_beat and self._may_commit():
                        self._next_beat = now + s.heartbeat
                        self._committed = True
                        yield HEARTBEAT
                    elif sent:
                        yield FLUSH
                    continue
                if item is _END:
                    return
                if isinstance(item, _Failure):
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
                if item is _TO_REQUEST:
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
                if item is _END or isinstance(item, _Failure):
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

    # ---- the upstream side ---------------------------------------------------------------------------

    def _step(self):
        """The steps' next item; once they end or raise, _END or a _Failure (a call, not a generator wrapping
        them: a generator level less on the stack that every open stream keeps)."""
        try:
            return next(self._steps_gen)
        except (StopIteration, Cancelled):
            item = _END
        except GatewayError as error:
            item = _Failure(error)
        except Exception:  # a bug of ours: the client still gets a clean error, the log the traceback
            log.exception("request %s failed inside the gateway", self.call.id)
            item = _Failure(GatewayError("The gateway failed while handling this request.", code="internal_error"))
        self.relay.runs.discard(self)
        return item

    def _try_tokens(self) -> Iterator:
        """Try the request's tokens in turn until one answers, relaying its events."""
        pool, errors = self.relay.pool, self.stats.errors
        failures: list[tuple[Token, GatewayError]] = []
        candidates, retries, refusal, untried = list(self.tokens), dict.fromkeys(self.tokens, 0), None, None
        last_held: list | None = None
        # A pool that leases only after a round trip (Redis), or cannot lease at once (a test's), is asked
        # off the HTTP side: its ticket too may wait.
        at_once = getattr(pool, "leases_at_once", False)
        if not at_once and self._steps_inline:
            self._steps_inline = False
            yield _TO_PRODUCER
        # One place in the queue and one waiting budget for the whole request, retries included.
        ticket, deadline = pool.ticket(), time.monotonic() + self.settings.queue_timeout
        while candidates:
            lease = pool.lease_now(candidates) if at_once and self._steps_inline else None
            if lease is None:
                if self._steps_inline:
                    self._steps_inline = False
                    yield _TO_PRODUCER  # waiting for a token blocks: not on the HTTP side
                # Before the status is sent, a wait that cannot end within the budget is not started.
                until = deadline if self._committed else min(deadline, self._budget_end)
                try:
                    lease = pool.acquire(candidates, max(0.0, until - time.monotonic()), self._cancelled,
                                         ticket)
                except GatewayError as error:
                    errors.append(error)
                    refusal = error
                    break
            token = lease.token
            self.stats.attempts += 1
            self.stats.token = token
            try:
                # A whole answer reaches the client only at its end: its events are held until the try succeeded,
                # so a try that fails after some reasoning or text still moves to the next token, whose answer
                # is rendered alone; the last failed try's events go out with its error.
                held = None if self.call.stream else []
                yield from self._attempt_with(token, getattr(lease, "answer_sent", None), held)
                pool.report_success(token)
                yield from held or ()
                return
            except GatewayError as error:
                pool.report_failure(token, error)
                errors.append(error)
                failures.append((token, error))
                last_held = held
                if self._content_started or not error.retryable or self._cancelled.is_set():
                    yield from last_held or ()
                    raise
                if self._budget_spent():
                    # Another try would start after the budget: the failures so far are the answer.
                    untried = (f"the {self.settings.precommit_seconds:g} s a request may wait before its status "
                               "is sent were spent (FREESEEK_PRECOMMIT_SECONDS)")
                    break
                if error.token_state == "cooldown" and retries[token] < RATE_LIMIT_RETRIES:
                    retries[token] += 1  # stays a candidate: the pool holds it back until its cooldown ends
                else:
                    candidates.remove(token)
                log.info("request %s: %s failed (%s), trying %s", self.call.id, token.ref, error.status,
                         "again after its cooldown" if token in candidates else "the next token")
            finally:
                lease.release()
        if self._cancelled.is_set():
            raise Cancelled()
        yield from last_held or ()
        raise most_telling(self.tokens, failures, refusal, pool, untried)

    def _attempt_with(self, token: Token, on_send: Callable[[], None] | None = None,
                      held: list | None = None) -> Iterator:
        """One try with the token; a whole answer's events go to `held` (when given) instead of out."""
        attempt = Attempt(token, time.monotonic())
        attempt.scope.on_send = on_send  # the adapter says when the answer's request goes out (pacing counts it)
        with self._lock:
            if self._cancelled.is_set():
                raise Cancelled()
            self._attempt = attempt
        stream = None
        try:
            stream = yield from self._open(attempt)
            # An API's answer is accepted with its 2xx headers; the web chat's once its stream says it started
            # the answer (a rate-limit or length notice comes first, instead of an answer: still a real status).
            self._accepted = not getattr(stream, "accepted_at_first_event", False)
            if not getattr(stream, "inline", False):
                if self._steps_inline:
                    self._steps_inline = False
                    yield _TO_PRODUCER  # a whole answer is read without wake-ups: not on the HTTP side
                events = stream.events()
            else:
                if not self._steps_inline:
                    self._steps_inline = True
                    yield _TO_REQUEST
                events = stream.events(self._idle)
            for event in events:
                if attempt.abort_error is not None or self._cancelled.is_set():
                    break
                if isinstance(event, KeepAlive):
                    # Upstream comments keep our socket alive; they are not content. Read inline, they
                    # also mark a silence the HTTP side checks its deadlines and keep-alives at.
                    if self._steps_inline:
                        yield _SILENCE
                    continue
                self._accepted = True
                if isinstance(event, HeldContent):
                    # Content held back (a tool-call block arriving) is progress for the deadlines, but not
                    # yet for the client: failover stays possible and keep-alives keep flowing.
                    attempt.content_at = time.monotonic()
                    continue
                if isinstance(event, (Text, ToolCallDelta)):
                    attempt.content_at = time.monotonic()
                    if held is None:
                        self._content_started = True
                if held is not None:
                    held.append(event)
                    if self._steps_inline:
                        yield _SILENCE  # the HTTP side checks its deadlines and keep-alives meanwhile
                    continue
                yield event
        except Exception:
            # A read that failed because we aborted it reports why we aborted, not the broken socket.
            if attempt.abort_error is not None:
                raise attempt.abort_error from None
            if self._cancelled.is_set():
                raise Cancelled() from None
            raise
        finally:
            self._accepted = False   # a failover's next try must be accepted again before a keep-alive
            with self._lock:
                self._attempt = None
            if stream is not None:
                stream.close()
        if attempt.abort_error is not None:
            raise attempt.abort_error
        if self._cancelled.is_set():
            raise Cancelled()

    def _open(self, attempt: Attempt) -> Iterator:
        """Run the adapter's open() in its own greenlet, inside the attempt's abort scope, and wait for it or
        for an abort: a deadline or a departed client is never held up by a phase that cannot be woken
        (a proof-of-work solve, a lock), and the sockets it uses are shut at once. Carried by the HTTP side,
        the wait yields a silence whenever a keep-alive or a deadline check is due; returns the stream."""
        adapter = self.relay.adapter_for(attempt.token.provider)

        def run() -> None:
            try:
                with attempt.scope:
                    opened = ("stream", adapter.open(self.call, attempt.token))
            except BaseException as exc:  # handed to the waiting side, which raises it
                opened = ("error", exc)
            with self._lock:
                attempt.opened = opened
                abandoned = attempt.abandoned
            if abandoned and opened[0] == "stream":
                opened[1].close()
            attempt.woken.set()
        start_background(run)
        try:
            while not attempt.woken.wait(self._idle() if self._steps_inline else None):
                yield _SILENCE
        except BaseException:  # the client left (or the worker killed us) while the answer opened: nobody reads it
            attempt.abort()
            with self._lock:
                attempt.abandon()
            raise
        with self._lock:
            if attempt.abort_error is not None or self._cancelled.is_set():
                attempt.abandon()
                raise attempt.abort_error or Cancelled()
            kind, value = attempt.opened
            if kind == "error":
                raise value
            attempt.stream = value
            return value

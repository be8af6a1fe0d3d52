"""The upstream side of a relay run: its steps, one generator that leases tokens in turn, opens each attempt
in a greenlet of its own and relays its events, failing over until one answers (RelayRun carries them)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, Iterator

from services.attempt import Attempt
from services.credentials import Token
from services.errors import GatewayError, detach
from services.events import HeldContent, KeepAlive, Text, ToolCallDelta
from services.failover import most_telling
from services.offload import start_background

log = logging.getLogger("freeseek")

END = object()         # the steps ended: the answer is complete (or the run was cancelled)
# Where the run's steps are carried on (see RelayRun): to a producer for the phases that block without
# waking (a wait in the token queue, a whole answer), back to the request's own greenlet once an answer can
# be read there.
TO_REQUEST, TO_PRODUCER = object(), object()
SILENCE = object()     # an inline read woke with nothing new: time to look at deadlines and keep-alives

# A rate-limited token is tried again once its cooldown ends (if that is within the queue timeout and, before
# the status is sent, the pre-commit budget), at most this often per request: waiting beats failing,
# hammering does not.
RATE_LIMIT_RETRIES = 2


class Cancelled(Exception):
    """The run was cancelled because its client left."""


@dataclass
class Failure:
    """The steps raised this error: the run's answer is it."""

    error: GatewayError


class UpstreamSteps:
    """RelayRun's upstream half (its state, and the HTTP side that carries these steps, are in RelayRun)."""

    __slots__ = ()

    def _step(self):
        """The steps' next item; once they end or raise, END or a Failure (a call, not a generator wrapping
        them: a generator level less on the stack that every open stream keeps)."""
        try:
            return next(self._steps_gen)
        except (StopIteration, Cancelled):
            item = END
        except GatewayError as error:
            item = Failure(detach(error))  # handed on to the HTTP side: without the frames it passed
        except Exception as error:  # a bug of ours: the client still gets a clean error, the log the traceback
            log.exception("request %s failed inside the gateway", self.call.id)
            detach(error)
            item = Failure(GatewayError("The gateway failed while handling this request.", code="internal_error"))
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
            yield TO_PRODUCER
        # One place in the queue and one waiting budget for the whole request, retries included.
        ticket, deadline = pool.ticket(), time.monotonic() + self.settings.queue_timeout
        while candidates:
            lease = pool.lease_now(candidates) if at_once and self._steps_inline else None
            if lease is None:
                if self._steps_inline:
                    self._steps_inline = False
                    yield TO_PRODUCER  # waiting for a token blocks: not on the HTTP side
                # Before the status is sent, a wait that cannot end within the budget is not started.
                until = deadline if self._committed else min(deadline, self._budget_end)
                try:
                    lease = pool.acquire(candidates, max(0.0, until - time.monotonic()), self._cancelled,
                                         ticket)
                except GatewayError as error:
                    errors.append(detach(error))
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
                # Kept for the message and the failover rules only: the attempt's frames and the upstream
                # library's error it was raised from (a cycle through urllib3's frames) are let go now.
                detach(error)
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
                    yield TO_PRODUCER  # a whole answer is read without wake-ups: not on the HTTP side
                events = stream.events()
            else:
                if not self._steps_inline:
                    self._steps_inline = True
                    yield TO_REQUEST
                events = stream.events(self._idle)
            for event in events:
                if attempt.abort_error is not None or self._cancelled.is_set():
                    break
                if isinstance(event, KeepAlive):
                    # Upstream comments keep our socket alive; they are not content. Read inline, they
                    # also mark a silence the HTTP side checks its deadlines and keep-alives at.
                    if self._steps_inline:
                        yield SILENCE
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
                        yield SILENCE  # the HTTP side checks its deadlines and keep-alives meanwhile
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
            except GatewayError as exc:  # handed to the waiting side, which raises it (unless it was aborted)
                opened = ("error", detach(exc))  # its frames lead back here, to `attempt`, which holds it
            except BaseException as exc:  # a bug of ours: its traceback is kept for the log
                opened = ("error", exc)
            with self._lock:
                attempt.opened = opened
                abandoned = attempt.abandoned
            if abandoned and opened[0] == "stream":
                opened[1].close()
            opened = None  # an error's traceback holds this frame: its local would make a cycle
            attempt.woken.set()
        start_background(run)
        try:
            while not attempt.woken.wait(self._idle() if self._steps_inline else None):
                yield SILENCE
        except BaseException:  # the client left (or the worker killed us) while the answer opened: nobody reads it
            attempt.abort()
            with self._lock:
                attempt.abandon()
            raise
        with self._lock:
            if attempt.abort_error is not None or self._cancelled.is_set():
                attempt.abandon()
                raise attempt.abort_error or Cancelled()
            (kind, value), attempt.opened = attempt.opened, None
            if kind == "error":
                raise value
            attempt.stream = value
            return value

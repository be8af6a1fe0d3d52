"""One answer of the web chat: its stream read into events, cut answers continued, errors classified."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Iterator

from services import abortable
from services.chat_call import ChatCall
from services.credentials import Token
from services.errors import BadRequest, GatewayError, RateLimited, UpstreamError, UpstreamTimeout, UpstreamUnavailable
from services.events import Conversation, Finish, Text
from services.providers.deepseek_web import protocol as p
from services.providers.deepseek_web.capture import Recorder
from services.providers.deepseek_web.conversations import Turn
from services.providers.deepseek_web.citations import Citations, sources_text
from services.providers.deepseek_web.stream import WebStreamError, WebStreamParser
from services.providers.failures import connection_failed, failure
from services.providers.http_body import READ_ERRORS, HttpBody
from services.sse import read_events

log = logging.getLogger("freeseek")

# How long an answer we stopped holds its account for the stop_stream call (one short JSON call).
STOP_WAIT_SECONDS = 5.0

if TYPE_CHECKING:
    from services.providers.deepseek_web.adapter import WebChat


class WebStream:
    """One completion of the web chat, continued while the service cuts it, read into normalised events."""

    accepted_at_first_event = True  # its notices (rate limit, input too long) come instead of the first event

    def __init__(self, adapter: "WebChat", call: ChatCall, token: Token, session_id: str, body: HttpBody):
        self.adapter, self.call, self.token, self.session_id, self.body = adapter, call, token, session_id, body
        self.parser = WebStreamParser(drift=adapter.drift)
        # FREESEEK_WEB_CAPTURE_DIR: what the web chat sends is kept, to be written redacted when the answer ends.
        self.capture = Recorder() if adapter.settings.web_capture_dir else None
        self._call = p.COMPLETION
        self._aborted = threading.Event()
        self._continuing = False
        self._scope = abortable.current()  # the attempt's: continue calls join it, so an abort shuts them too
        self._stopper: threading.Thread | None = None   # a stop_stream call under way for this answer
        adapter.conversations.acquire(session_id)

    def abort(self) -> None:
        """Unblock the reader and stop the upstream answer (called from another greenlet)."""
        self._aborted.set()
        self.body.abort()
        if self.parser.message_id is not None and self.parser.finish is None:
            self._stopper = self.adapter.stop_later(self.token, self.session_id, self.parser.message_id)

    def close(self) -> None:
        """Close the connection; the session's idle time starts."""
        self.body.close()
        if self._stopper is not None:
            # The account is released after this: until the web chat has stopped generating, its next answer
            # would be refused ("a reply is already being generated").
            self._stopper.join(STOP_WAIT_SECONDS)
        self.adapter.conversations.release(self.session_id)
        self._save_capture()  # an answer that failed: what it received so far

    def _save_capture(self) -> None:
        """Write the capture of this answer's streams, once (FREESEEK_WEB_CAPTURE_DIR)."""
        capture, self.capture = self.capture, None
        if capture is not None:
            try:
                capture.save(self.adapter.settings.web_capture_dir)
            except OSError as error:
                log.warning("could not write a capture of a web answer: %s", error)

    def events(self) -> Iterator:
        """Yield the conversation id, then text and reasoning; the sources and the Finish at the end."""
        model, settings = self.call.model, self.adapter.settings
        citations = Citations() if self.call.search else None
        answer: list[str] = []
        announced, rounds = False, 0
        while True:
            for event in self._read(self.parser):
                if not announced and self.parser.message_id is not None:
                    announced = True
                    yield Conversation(f"{self.session_id}@{self.parser.message_id}")
                if isinstance(event, Text) and event.content and citations:
                    event = Text(content=citations.feed(event.content), reasoning=event.reasoning)
                    if not event.content and not event.reasoning:
                        continue  # a citation marker still arriving
                if isinstance(event, Text):
                    answer.append(event.content)
                yield event
            if self.parser.hint is not None and not self.parser.received:
                raise self._stream_error(self.parser.hint)  # a hint instead of an answer
            if self.parser.status is None and rounds == 0:
                raise connection_failed(self.adapter.provider.name, "the stream ended before the answer was complete")
            # A cut answer (or a continue stream that ended without a status) is resumed, a bounded number of
            # times; the legacy format has no continuation.
            if (self.parser.status not in (None, p.STATUS_INCOMPLETE) or self.parser.legacy
                    or rounds >= settings.web_continue_rounds):
                break
            if self.parser.message_id is None or self._aborted.wait(settings.web_continue_pause):
                break
            rounds += 1
            self._resume()
        parser = self.parser
        if parser.status is None:
            parser.status = p.STATUS_INCOMPLETE  # continue streams that never said more: still cut
        tail = (citations.flush() if citations else "") + ("" if "".join(answer) else parser.withheld)
        if self.call.search and not model.silent:
            tail += sources_text(parser.search_results)
        if tail:
            answer.append(tail)
            yield Text(content=tail)
        self.adapter.conversations.remember(self.call.messages, "".join(answer),
                                            Turn(self.session_id, parser.message_id, self.token))
        self._save_capture()  # before the answer ends, so it is on disk when the client has the answer
        yield Finish(parser.finish)

    def _read(self, parser: WebStreamParser) -> Iterator:
        """The events of the current upstream stream, its errors classified."""
        try:
            chunks = self.body.chunks()
            if self.capture is not None and isinstance(self.body, HttpBody):
                response = self.body.response
                chunks = self.capture.tee(self._call, response.status_code, response.headers, chunks)
            for sse in read_events(chunks):
                yield from parser.feed(sse)
                if parser.closed:
                    return
        except WebStreamError as exc:
            if parser.message_id is not None and parser.status is None:
                # It may still be writing.
                self._stopper = self.adapter.stop_later(self.token, self.session_id, parser.message_id)
            raise self._stream_error(exc) from None
        except READ_ERRORS:
            if parser.status == p.STATUS_INCOMPLETE or self._continuing:
                return  # a cut answer, or a broken continue stream: resumed again, or ended as "length"
            raise connection_failed(self.adapter.provider.name, "the connection broke during the answer") from None

    def _resume(self) -> None:
        """Open the continue stream of the cut message; it re-sends what we already have, which is skipped."""
        previous = self.parser
        self.body.close()
        self._continuing, self._call = True, p.CONTINUE
        try:
            resume = self._scope.bind(self.adapter.resume) if self._scope else self.adapter.resume
            self.body = resume(self.token, self.session_id, previous.message_id)
        except GatewayError as error:
            # This round is lost and the answer stays cut: what was received is still worth sending.
            log.info("continuing an answer on %s failed: %s", self.token.ref, error.message)
            self.body = _Ended()
        self.parser = WebStreamParser(resume=previous)

    def _stream_error(self, exc: WebStreamError) -> GatewayError:
        """The gateway error a stream's error notice stands for."""
        name, ref = self.adapter.provider.name, self.token.ref
        if exc.kind == "rate_limit":
            return failure(RateLimited(f"{name}: account {ref} is rate-limited by the web chat."),
                           token_state="cooldown", retryable=True)
        if exc.kind in ("input_too_long", "context_length"):
            return failure(BadRequest(f"{name}: the conversation is longer than the web chat accepts; shorten it "
                                      "or start a new one.", code="context_length_exceeded", param="messages"),
                           token_state=None, retryable=False)
        if exc.kind == "timeout":
            return failure(UpstreamTimeout(f"{name}: the web chat gave up on this answer (TIMEOUT)."),
                           token_state=None, retryable=False)
        if exc.kind == "unsupported_client":
            return failure(UpstreamError(
                f"{name} refuses our client identity for model type '{self.adapter.model_type(self.call)}' "
                f"(unsupported_client_by_model): raise FREESEEK_WEB_CLIENT_VERSION (now "
                f"{self.adapter.settings.web_client_version}) or use a model name without expert/pro.",
                code="unsupported_client"), token_state=None, retryable=False)
        if exc.kind == "busy":
            return failure(UpstreamUnavailable(f"{name}: {exc}"), token_state="rest", retryable=True)
        return failure(UpstreamError(f"{name}: {exc}"), token_state="rest", retryable=True)


class _Ended:
    """A continue stream that could not be opened: no bytes, so the answer stays cut."""

    def chunks(self) -> Iterator[bytes]:
        return iter(())

    def abort(self) -> None:
        pass

    def close(self) -> None:
        pass

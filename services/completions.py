"""One request of any dialect end to end: its tokens, a relay run, keep-alives, in-band errors, the log line."""

from __future__ import annotations

import hmac
import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

from services.chat_call import ChatCall
from services.credentials import Token, parse_tokens, presented
from services.dialects.base import Renderer
from services.errors import BadRequest, ClientGone, GatewayError, Unauthorized, detach
from services.events import Usage
from services.json_codec import dumps
from services.metrics import Metrics
from services.providers.registry import Registry
from services.relay import FLUSH, HEARTBEAT, Relay, RelayRun
from services.settings import Settings
from services.usage import TokenCounter

log = logging.getLogger("freeseek")

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@dataclass
class Reply:
    """What the HTTP edge sends: a status, headers, and a body that may be a stream of bytes."""

    status: int
    body: bytes | Iterator[bytes]
    mimetype: str = "application/json"
    headers: dict = field(default_factory=dict)


class Completions:
    """Answers one internal call for any dialect; the dialect's renderer gives the grammar."""

    def __init__(self, settings: Settings, registry: Registry, relay: Relay, counter: TokenCounter,
                 metrics: Metrics | None = None):
        self.settings, self.registry, self.relay, self.counter = settings, registry, relay, counter
        self.metrics = metrics or Metrics()
        self._server_tokens = parse_tokens(settings.tokens, registry) if settings.tokens else []

    def tokens_for(self, authorization: str | None, api_key: str | None = None) -> list[Token]:
        """The request's tokens: its own, or the server's once it presented one of the API keys."""
        # `api_key` is an `x-api-key` header, which Anthropic's clients send instead of a Bearer header.
        value = presented(authorization, api_key)
        if not self._server_tokens:
            return parse_tokens(value, self.registry)
        if not any(hmac.compare_digest(value.encode(), key.encode()) for key in self.settings.api_keys):
            raise Unauthorized("This gateway holds its own tokens: send one of its API keys "
                               "(FREESEEK_API_KEYS) as the Bearer token (or x-api-key).")
        return self._server_tokens

    def servable(self, call: ChatCall, tokens: list[Token]) -> list[Token]:
        """Keep the tokens whose provider can serve the model (and own its conversation), or say which could."""
        asked = call.model.name
        call.model, able = self.registry.resolve(call.model, {t.provider for t in tokens},
                                                 self.settings.strict_models)
        if call.model.asked:
            log.info("request %s: model %r is not one the given tokens' providers serve; %s answers it",
                     call.id, asked, call.model.name)
        usable = [t for t in tokens if t.provider in able]
        for provider in dict.fromkeys(t.provider for t in usable):
            usable = self.relay.adapter_for(provider).pin(call, usable)
        if not usable:
            given = sorted({t.provider for t in tokens})
            raise BadRequest(f"Model '{asked}' cannot be served with the tokens given (providers: "
                             f"{', '.join(given)}); providers that can serve it: {', '.join(able) or 'none'}.",
                             param="model", code="model_not_supported")
        return usable

    def complete(self, call: ChatCall, renderer: Renderer, tokens: list[Token],
                 client_gone: Callable[[], bool] = lambda: False) -> Reply:
        """Run one call and return the reply in the renderer's grammar (errors before the first byte are raised)."""
        run = self.relay.start(call, self.servable(call, tokens))
        events = run.events(client_gone)
        try:
            if call.stream:
                first = next(events, None)
                return Reply(200, self._stream(run, renderer, first, events), "text/event-stream",
                             dict(SSE_HEADERS))
            for item in events:
                if item is HEARTBEAT:
                    # The answer is slow: commit to 200 and keep the connection busy with whitespace.
                    return Reply(200, self._late_json(run, renderer, events))
                if item is not FLUSH:
                    renderer.record(item)
            reply = dumps(renderer.whole(self._usage(run, renderer)))
            run.stats.ttfb = time.monotonic() - run.started
            self._log(run, 200, renderer)
            return Reply(200, reply)
        except ClientGone:
            run.cancel()
            self._log(run, 499, renderer)
            return Reply(499, b"")
        except GatewayError as error:
            run.cancel()
            self._log(run, error.status, renderer)
            raise

    def _stream(self, run: RelayRun, renderer: Renderer, first, events: Iterator) -> Iterator[bytes]:
        """SSE body: the dialect's keep-alives and events, then its closing events; the events of one upstream
        burst go out in one write while the relay says when bursts end. An error goes in-band (see _failed)."""
        held: list[bytes] = []
        status = self._opened(renderer)
        try:
            if self._hold(run, renderer, first, held):
                yield b"".join(held)
                held.clear()
            for item in events:
                if self._hold(run, renderer, item, held):
                    yield b"".join(held)
                    held.clear()
            held.append(renderer.stream_end(self._usage(run, renderer)))
            yield b"".join(held)
        except (Exception, GeneratorExit) as exc:
            status, tail = self._failed(run, exc, renderer.stream_error)
            if tail:
                yield b"".join(held) + tail  # what came before the failure, then the in-band error
        finally:
            self._closed(run, renderer, status)

    @staticmethod
    def _hold(run: RelayRun, renderer: Renderer, item, held: list[bytes]) -> bool:
        """Add what the relay's item renders to held; whether held should be written now (while the relay
        reads the upstream itself, only at its FLUSH or a keep-alive)."""
        if item is None:
            return False
        if item is HEARTBEAT:
            held.append(renderer.keepalive())
            return True
        if item is FLUSH:
            return bool(held)
        out = renderer.stream_event(item)
        if not out:
            return False
        if run.stats.ttfb is None:
            run.stats.ttfb = time.monotonic() - run.started
        held.append(out)
        return not run.inline

    def _late_json(self, run: RelayRun, renderer: Renderer, events: Iterator) -> Iterator[bytes]:
        """Non-stream body for a slow answer: leading whitespace while waiting, then the JSON."""
        status = self._opened(renderer)
        try:
            yield b"\n"
            for item in events:
                if item is HEARTBEAT:
                    yield b"\n"
                elif item is not FLUSH:
                    renderer.record(item)
            yield dumps(renderer.whole(self._usage(run, renderer)))
        except (Exception, GeneratorExit) as exc:
            status, tail = self._failed(run, exc, lambda error: dumps(renderer.late_error(
                error, self._usage(run, renderer))))
            if tail:
                yield tail
        finally:
            self._closed(run, renderer, status)

    # The bodies above are the generators that every open stream keeps parked: each handles its own end
    # rather than being wrapped in another (a generator level is about 600 bytes of each stream's stack).
    def _opened(self, renderer: Renderer) -> int:
        """Count a body that starts streaming; the status it will be logged with unless it fails."""
        self.metrics.stream_opened(renderer.dialect)
        return 200

    def _failed(self, run: RelayRun, exc: BaseException,
                render_error: Callable[[GatewayError], bytes]) -> tuple[int, bytes]:
        """The status of a body that stopped on exc after its first byte, and the in-band error to send
        (nothing when the client left)."""
        if isinstance(exc, GatewayError):
            detach(exc)
            return exc.status, render_error(exc)
        if isinstance(exc, (ClientGone, GeneratorExit)):
            return 499, b""
        # A bug of ours after the first byte: the client still learns the answer failed.
        log.exception("request %s failed inside the gateway", run.call.id)
        detach(exc)
        return 500, render_error(GatewayError("The gateway failed while handling this request.", code="internal_error"))

    def _closed(self, run: RelayRun, renderer: Renderer, status: int) -> None:
        """Free the upstream, count the stream closed and log the request."""
        run.cancel()
        self.metrics.stream_closed(renderer.dialect)
        self._log(run, status, renderer)

    def _usage(self, run: RelayRun, renderer: Renderer) -> Usage:
        """The upstream's usage when it gave one, else counted with DeepSeek's tokenizer."""
        upstream = renderer.upstream_usage
        if upstream is not None and (upstream.prompt_tokens or upstream.completion_tokens):
            run.stats.usage = upstream
        else:
            run.stats.usage = self.counter.usage(renderer.call.messages, renderer.text + renderer.tool_call_text,
                                                 renderer.reasoning_text)
            run.stats.usage.counted = True
        return run.stats.usage

    def _log(self, run: RelayRun, status: int, renderer: Renderer) -> None:
        """The one log line of a request, whatever its dialect; never a prompt, never a secret."""
        stats, usage, ttfb = run.stats, run.stats.usage, run.stats.ttfb
        duration = time.monotonic() - run.started
        self.metrics.record_request(renderer.dialect, stats.token.provider if stats.token else None,
                                    run.call.model.name, status, ttfb, duration,
                                    usage.prompt_tokens if usage else 0, usage.completion_tokens if usage else 0)
        log.info("request id=%s dialect=%s provider=%s token=%s model=%s stream=%s status=%s attempts=%d "
                 "ttfb_ms=%s duration_ms=%d tokens=%s",
                 run.call.id, renderer.dialect, stats.token.provider if stats.token else "-",
                 stats.token.ref if stats.token else "-", run.call.model.name, run.call.stream, status,
                 stats.attempts, int(ttfb * 1000) if ttfb is not None else "-", int(duration * 1000),
                 f"{usage.prompt_tokens}+{usage.completion_tokens}{'(counted)' if usage.counted else ''}"
                 if usage else "-")

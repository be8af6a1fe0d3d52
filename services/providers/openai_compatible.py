"""The adapter for every provider that speaks OpenAI's Chat Completions API."""

from __future__ import annotations

import json
import logging
from typing import Callable, Iterator

import requests

from services.chat_call import ChatCall
from services.credentials import Token
from services.errors import BadRequest, UpstreamError, UpstreamTimeout
from services.events import KEEPALIVE, Finish, Text, Usage
from services.json_codec import dumps, loads
from services.providers.failures import classify_status, connection_failed, failure, scrub, upstream_message
from services.providers.http_body import READ_ERRORS, HttpBody
from services.providers.http_send import JsonPoster
from services.providers.registry import Provider
from services.settings import Settings
from services.sse import read_events
from services.think_tags import ThinkTagSplitter
from services.tools.native import NativeToolCalls


log = logging.getLogger("freeseek")

class OpenAICompatible:
    """Sends a chat call to `<base_url><chat_path>` and normalises the streamed answer."""

    def __init__(self, provider: Provider, http: requests.Session, settings: Settings):
        self.provider, self.http, self.settings = provider, http, settings
        self.poster = JsonPoster(http, provider.url(provider.chat_path))

    def pin(self, call: ChatCall, tokens: list[Token]) -> list[Token]:
        """API keys are interchangeable: any of them may serve any turn."""
        return tokens

    def request_body(self, call: ChatCall) -> dict:
        """The client's body with the model mapped; the upstream is always streamed, with usage."""
        target = self.provider.target(call.model)
        body = dict(call.body)
        body.pop("conversation_id", None)
        if body.pop("web_search_options", None) is not None:
            log.info("request %s: web search is not run by %s: dropped", call.id, self.provider.name)
        body["model"] = target.model
        for key, value in target.body.items():
            body.setdefault(key, value)  # the client's own choice (e.g. `thinking`) wins
        body["stream"] = True
        # Streaming upstream even for non-stream clients gives one code path, a first-content deadline,
        # and cancellation when the client leaves.
        body["stream_options"] = {**(call.body.get("stream_options") or {}), "include_usage": True}
        return body

    def _headers(self, token: Token) -> dict:
        return {"Authorization": f"Bearer {token.secret}", "Accept": "text/event-stream",
                **self.provider.headers}

    def open(self, call: ChatCall, token: Token) -> "OpenAIStream":
        """Send the request and return its stream once the upstream answered 200."""
        s = self.settings
        try:
            response = self.poster.post(dumps(self.request_body(call)), self._headers(token), s.upstream_timeout)
        except requests.ConnectTimeout:
            raise failure(UpstreamTimeout(f"{self.provider.name}: no connection within {s.connect_timeout:g} s "
                                          "(FREESEEK_CONNECT_TIMEOUT)."), token_state="rest", retryable=True)
        except requests.ReadTimeout:
            raise failure(UpstreamTimeout(f"{self.provider.name}: no response within "
                                          f"{s.upstream_timeout[1]:g} s "
                                          f"({s.read_timeout_name})."), token_state="rest", retryable=True)
        except requests.exceptions.InvalidHeader as exc:
            # A header that cannot be sent is the client's mistake: no token pays for it.
            raise failure(BadRequest(f"The request cannot be sent upstream: {type(exc).__name__}."),
                          token_state=None, retryable=False) from None
        except requests.RequestException:
            raise connection_failed(self.provider.name, "could not connect") from None
        body = HttpBody(response)
        if response.status_code >= 300:
            text = body.read_all(65536)
            body.close()
            raise classify_status(self.provider.name, token, response.status_code, text, response.headers,
                                  self.settings.max_retry_after_seconds,
                                  key_prefixes=self.provider.key_prefixes)
        return OpenAIStream(self.provider.name, token, body)

    def check(self, token: Token) -> bool | dict:
        """Ask the provider's cheap key-check endpoint whether the key is live (a refused key says why)."""
        try:
            response = self.http.get(self.provider.url(self.provider.check_url), headers=self._headers(token),
                                     timeout=(self.settings.connect_timeout, 30))
        except requests.RequestException:
            raise connection_failed(self.provider.name, "could not reach the key check") from None
        with response:
            if response.status_code == 200:
                return True
            if response.status_code in (401, 402, 403):
                refusal = classify_status(self.provider.name, token, response.status_code, response.content,
                                          key_prefixes=self.provider.key_prefixes)
                return {"live": False, "detail": refusal.message}
            raise classify_status(self.provider.name, token, response.status_code, response.content,
                                  response.headers, self.settings.max_retry_after_seconds,
                                  key_prefixes=self.provider.key_prefixes)


class OpenAIStream:
    """One upstream answer in OpenAI's SSE grammar, read into normalised events."""

    __slots__ = ("provider", "token", "body")  # one of each per open stream

    def __init__(self, provider: str, token: Token, body: HttpBody):
        self.provider, self.token, self.body = provider, token, body

    def abort(self) -> None:
        """Unblock the reader (called from another greenlet)."""
        self.body.abort()

    def close(self) -> None:
        """Close the upstream connection."""
        self.body.close()

    @property
    def _whole_json(self) -> bool:
        """Whether the upstream ignored `stream` and answers with one JSON body."""
        return "json" in self.body.response.headers.get("Content-Type", "")

    @property
    def inline(self) -> bool:
        """Whether `events(idle)` wakes after silences, so the request's own greenlet can read it (a whole
        JSON answer is read in one blocking read: that stays with the producer)."""
        return self.body.can_wake and not self._whole_json

    def events(self, idle: Callable[[], float] | None = None) -> Iterator:
        """Yield Text, ToolCallDelta, Usage and KeepAlive events, then one Finish; raise if the stream is cut.
        With `idle`, a KeepAlive also comes whenever nothing arrived for `idle()` seconds."""
        if self._whole_json:
            yield from self._whole_answer(self.body.read_all())
            return
        splitter, calls = ThinkTagSplitter(), NativeToolCalls()
        finish, done = None, False
        chunks = self.body.chunks(idle)
        try:
            for sse in read_events(chunks):
                if sse.comment or not sse.data.strip():
                    yield KEEPALIVE
                    continue
                if sse.data.strip() == "[DONE]":
                    done = True
                    break
                # The decoded chunk is not kept in a local, and the last event is let go: either would stay
                # alive while the stream is parked waiting for the next one (about 0.8 KiB of every open
                # stream, and objects the cyclic collector rescans in every pass).
                for event in self._chunk_events(self._decode(sse.data), splitter, calls):
                    if isinstance(event, Finish):
                        finish = event
                    else:
                        yield event
                event = None
            if done:
                yield KEEPALIVE  # a flush point: what the relay holds goes out before the body's end is read
                self.body.finish(chunks)
        except READ_ERRORS:
            raise connection_failed(self.provider, "the connection broke during the answer") from None
        yield from splitter.flush()
        yield from calls.flush()
        if finish is None and not done:
            raise connection_failed(self.provider, "the stream ended before the answer was complete")
        yield Finish(calls.finish_reason(finish.reason if finish else "stop"))

    def _decode(self, data: str) -> dict:
        try:
            chunk = loads(data)
        except ValueError:
            raise connection_failed(self.provider, "sent a malformed stream event") from None
        if not isinstance(chunk, dict):
            raise connection_failed(self.provider, "sent a malformed stream event")
        if chunk.get("error"):
            message = scrub(upstream_message(json.dumps(chunk)), self.token)
            raise failure(UpstreamError(f"{self.provider} reported an error mid-stream: {message}"),
                          token_state="rest", retryable=True)
        return chunk

    def _chunk_events(self, chunk: dict, splitter: ThinkTagSplitter, calls: NativeToolCalls) -> list:
        """Normalise one chunk (or a whole non-stream answer): reasoning in any of its three spellings."""
        # A list, not a generator: one per chunk, and a generator's set-up cost more than the work.
        out: list = []
        if isinstance(chunk.get("usage"), dict):
            out.append(normalise_usage(chunk["usage"]))
        for choice in chunk.get("choices") or []:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or choice.get("message") or {}
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(reasoning, str) and reasoning:
                out.append(Text(reasoning=reasoning))
            content = delta.get("content")
            if isinstance(content, str) and content:
                out += splitter.feed(content)
            if delta.get("tool_calls"):
                out += calls.feed(delta["tool_calls"])
            if choice.get("finish_reason"):
                out.append(Finish(choice["finish_reason"]))
        return out

    def _whole_answer(self, data: bytes) -> Iterator:
        """An upstream that ignored `stream` and sent one JSON answer (leading blank lines allowed)."""
        splitter, calls = ThinkTagSplitter(), NativeToolCalls()
        chunk = self._decode(data.decode("utf-8", "replace").strip() or "{}")
        finish = None
        for event in self._chunk_events(chunk, splitter, calls):
            if isinstance(event, Finish):
                finish = event
            else:
                yield event
        yield from splitter.flush()
        yield from calls.flush()
        if finish is None:
            raise connection_failed(self.provider, "answered without a complete message")
        yield Finish(calls.finish_reason(finish.reason))


def normalise_usage(raw: dict) -> Usage:
    """Read usage in OpenAI's or DeepSeek's spelling, keeping cached and reasoning tokens."""
    cached = (raw.get("prompt_tokens_details") or {}).get("cached_tokens")
    if cached is None:
        cached = raw.get("prompt_cache_hit_tokens")
    reasoning = (raw.get("completion_tokens_details") or {}).get("reasoning_tokens")
    return Usage(prompt_tokens=int(raw.get("prompt_tokens") or 0),
                 completion_tokens=int(raw.get("completion_tokens") or 0),
                 reasoning_tokens=reasoning, cached_tokens=cached)

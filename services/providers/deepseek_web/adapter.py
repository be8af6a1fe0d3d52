"""The deepseek-web provider: a user's own web-chat token as an upstream."""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Iterator

import requests

from services import abortable
from services.chat_call import ChatCall
from services.credentials import Token
from services.errors import Forbidden, RateLimited, Unauthorized, UpstreamError
from services.events import Conversation, Finish, Text
from services.offload import run_blocking
from services.prompt import flatten, message_text
from services.providers.deepseek_web import protocol as p
from services.providers.deepseek_web.conversations import Conversations, Turn
from services.providers.deepseek_web.pow import pow_response, solve
from services.providers.deepseek_web.stream import Citations, WebStreamError, WebStreamParser, sources_text
from services.providers.failures import classify_status, connection_failed, failure
from services.providers.http_body import READ_ERRORS, HttpBody
from services.providers.registry import Provider
from services.settings import Settings
from services.sse import read_events

log = logging.getLogger("freeseek")


@dataclass
class Plan:
    """Where a request's answer goes: a new session (whole history as one prompt) or a continuation."""

    prompt: str
    session_id: str | None = None
    parent_id: int | None = None
    owner: Token | None = None


class WebChat:
    """Speaks the web chat protocol (specs/deepseek-web.md); every name of it lives in protocol.py."""

    def __init__(self, provider: Provider, http: requests.Session, settings: Settings):
        self.provider, self.http, self.settings = provider, http, settings
        self.conversations = Conversations(settings.web_session_idle_seconds)
        self._janitor: threading.Thread | None = None
        self._janitor_lock = threading.Lock()

    # ---- planning ----------------------------------------------------------------------------------

    def continuation(self, call: ChatCall) -> Plan | None:
        """A native continuation (conversation_id, or a resent history we answered before), if this is one."""
        last_user = message_text(call.messages[-1].get("content")) if call.messages else ""
        conversation_id = call.body.get("conversation_id")
        if isinstance(conversation_id, str) and "@" in conversation_id:
            session_id, _, message_id = conversation_id.rpartition("@")
            if session_id and message_id.isdigit():
                return Plan(last_user, session_id, int(message_id), self.conversations.owner(session_id))
        turn = self.conversations.match(call.messages)
        if turn is not None:
            return Plan(last_user, turn.session_id, turn.message_id, turn.token)
        return None

    def pin(self, call: ChatCall, tokens: list[Token]) -> list[Token]:
        """A continuation must stay on the account that owns its session."""
        plan = self.continuation(call)
        owner = plan.owner if plan else None
        return [owner] if owner is not None and owner in tokens else tokens

    # ---- the calls ---------------------------------------------------------------------------------

    def _headers(self, token: Token) -> dict:
        return {**p.CLIENT_HEADERS, **self.provider.headers, "Authorization": f"Bearer {token.secret}",
                "Origin": self.provider.base_url, "Referer": self.provider.base_url + "/"}

    def _call(self, token: Token, method: str, path: str, body: dict | None = None):
        """One JSON call: the envelope's biz_data, or a classified error."""
        try:
            response = self.http.request(method, self.provider.url(path), json=body, headers=self._headers(token),
                                         timeout=(self.settings.connect_timeout, 30))
        except requests.RequestException:
            raise connection_failed(self.provider.name, "could not reach the web chat") from None
        with response:
            return self._envelope(token, response.status_code, response.headers, response.content)

    def _envelope(self, token: Token, status: int, headers, content: bytes):
        if "text/html" in headers.get("Content-Type", ""):
            raise failure(UpstreamError(f"{self.provider.name}: the web chat answered with an HTML page: a WAF or "
                                        "region block (DeepSeek blocks many IPs outside mainland China)."),
                          token_state="rest", retryable=True)
        try:
            envelope = json.loads(content or b"null")
        except ValueError:
            envelope = None
        if not isinstance(envelope, dict):
            if status >= 400:
                raise classify_status(self.provider.name, token, status, content, headers)
            raise connection_failed(self.provider.name, "the web chat sent a reply that is not JSON")
        error = p.envelope_error(envelope)
        if error is None and status < 400:
            return p.biz_data(envelope)
        code, message = error or (status, "")
        raise self._classify(token, code, message, status, headers, content)

    def _classify(self, token: Token, code: int, message: str, status: int, headers, content) -> Exception:
        if code in p.DEAD_TOKEN_CODES:
            return failure(Unauthorized(f"{self.provider.name} rejected token {token.ref}: invalid or expired "
                                        f"web token (code {code}); log in again and copy a fresh userToken."),
                           token_state="dead", retryable=True)
        if any(word in message.lower() for word in p.RATE_LIMIT_WORDS):
            return failure(RateLimited(f"{self.provider.name}: account {token.ref} is sending too frequently "
                                       "(rate-limited by the web chat)."), token_state="cooldown", retryable=True)
        if status >= 400:
            return classify_status(self.provider.name, token, status, content, headers)
        return failure(UpstreamError(f"{self.provider.name}: the web chat refused the call (code {code})."),
                       token_state="rest", retryable=True)

    def _new_session(self, token: Token) -> str:
        data = self._call(token, "POST", p.CREATE_SESSION, p.create_session_body())
        session_id = (data or {}).get("id") or ((data or {}).get("chat_session") or {}).get("id")
        if not session_id:
            raise failure(Forbidden(f"{self.provider.name}: account {token.ref} may not open a chat session "
                                    "(empty reply: the account or this IP is banned)."), token_state="dead",
                          retryable=True)
        self.conversations.created(session_id, token)
        self._start_janitor()
        return session_id

    def _pow_header(self, token: Token) -> str:
        challenge = (self._call(token, "POST", p.CREATE_POW_CHALLENGE, p.pow_challenge_body()) or {}).get("challenge")
        if not isinstance(challenge, dict) or challenge.get("algorithm") != p.POW_ALGORITHM:
            raise connection_failed(self.provider.name, "the web chat sent a proof-of-work challenge of an "
                                                        "unknown kind")
        answer = run_blocking(solve, challenge["challenge"], challenge["salt"], int(challenge["expire_at"]),
                              int(challenge["difficulty"]))
        if answer is None:
            raise connection_failed(self.provider.name, "no answer to the proof-of-work challenge exists")
        return pow_response(challenge, answer)

    def open(self, call: ChatCall, token: Token) -> "WebStream":
        """Create a session and solve a challenge at the same time, then start the completion stream."""
        plan = self.continuation(call)
        if plan is None or plan.owner not in (None, token):
            # A new session with the whole history as one prompt (another account cannot continue a session).
            plan = Plan(flatten(call.messages))
        session_box: dict = {}
        if plan.session_id is None:
            def create():
                try:
                    session_box["id"] = self._new_session(token)
                except Exception as exc:  # reported below, once the challenge is solved
                    session_box["error"] = exc
            creator = threading.Thread(target=abortable.bind(create), daemon=True)  # aborted with the attempt
            creator.start()
        pow_header = self._pow_header(token)
        if plan.session_id is None:
            creator.join()
            if "error" in session_box:
                raise session_box["error"]
            plan.session_id = session_box["id"]
        body = p.completion_body(plan.session_id, plan.parent_id, plan.prompt, call.model.reasoning,
                                 call.model.search)
        try:
            response = self.http.post(self.provider.url(p.COMPLETION), json=body, stream=True,
                                      headers={**self._headers(token), p.POW_HEADER: pow_header},
                                      timeout=self.settings.upstream_timeout)
        except requests.RequestException:
            raise connection_failed(self.provider.name, "could not start the completion") from None
        http_body = HttpBody(response)
        if "text/event-stream" not in response.headers.get("Content-Type", ""):
            content = http_body.read_all(65536)
            http_body.close()
            self._envelope(token, response.status_code, response.headers, content)
            raise connection_failed(self.provider.name, "the completion did not start a stream")
        return WebStream(self, call, token, plan, http_body)

    def check(self, token: Token) -> bool:
        """Ask `users/current` whether the web token is live."""
        try:
            self._call(token, "GET", p.CURRENT_USER)
        except (Unauthorized, Forbidden):
            return False
        return True

    # ---- after the answer ----------------------------------------------------------------------------

    def stop_later(self, token: Token, session_id: str, message_id: int) -> None:
        """Tell the web chat to stop generating an answer nobody reads (in the background)."""
        def stop():
            try:
                self._call(token, "POST", p.STOP_STREAM, p.stop_stream_body(session_id, message_id))
            except Exception as exc:  # best effort: the stream is already closed on our side
                log.info("stop_stream for %s failed: %s", token.ref, getattr(exc, "message", exc))
        threading.Thread(target=stop, daemon=True).start()

    def _start_janitor(self) -> None:
        """Run the deleter of idle sessions while any session is tracked."""
        if not self.settings.web_delete_sessions:
            return
        with self._janitor_lock:
            if self._janitor is None or not self._janitor.is_alive():
                self._janitor = threading.Thread(target=self._delete_idle_sessions, daemon=True)
                self._janitor.start()

    def _delete_idle_sessions(self) -> None:
        period = max(0.05, min(30.0, self.settings.web_session_idle_seconds / 4))
        while self.conversations.tracked():
            time.sleep(period)
            for session in self.conversations.pop_idle():
                try:
                    self._call(session.token, "POST", p.DELETE_SESSION, p.delete_session_body(session.id))
                except Exception as exc:  # the session stays in the user's history; nothing else breaks
                    log.info("deleting a session of %s failed: %s", session.token.ref, getattr(exc, "message", exc))


class WebStream:
    """One completion stream of the web chat, read into normalised events."""

    def __init__(self, adapter: WebChat, call: ChatCall, token: Token, plan: Plan, body: HttpBody):
        self.adapter, self.call, self.token, self.plan, self.body = adapter, call, token, plan, body
        self.parser = WebStreamParser()
        adapter.conversations.acquire(plan.session_id)

    def abort(self) -> None:
        """Unblock the reader and stop the upstream answer (called from another greenlet)."""
        self.body.abort()
        if self.parser.message_id is not None and self.parser.finish is None:
            self.adapter.stop_later(self.token, self.plan.session_id, self.parser.message_id)

    def close(self) -> None:
        """Close the connection; the session's idle time starts."""
        self.body.close()
        self.adapter.conversations.release(self.plan.session_id)

    def events(self) -> Iterator:
        """Yield the conversation id, then text and reasoning; the sources and the Finish at the end."""
        model, parser = self.call.model, self.parser
        citations = Citations() if model.search else None
        answer: list[str] = []
        announced = False
        try:
            for sse in read_events(self.body.chunks()):
                events = parser.feed(sse)
                if not announced and parser.message_id is not None:
                    announced = True
                    yield Conversation(f"{self.plan.session_id}@{parser.message_id}")
                for event in events:
                    if isinstance(event, Text) and event.content and citations:
                        event = Text(content=citations.feed(event.content), reasoning=event.reasoning)
                        if not event.content and not event.reasoning:
                            continue  # a citation marker still arriving
                    if isinstance(event, Text):
                        answer.append(event.content)
                    yield event
                if parser.closed:
                    break
        except WebStreamError as exc:
            raise failure(UpstreamError(f"{self.adapter.provider.name}: {exc}"), token_state="rest",
                          retryable=True) from None
        except READ_ERRORS:
            raise connection_failed(self.adapter.provider.name, "the connection broke during the answer") from None
        if parser.finish is None:
            raise connection_failed(self.adapter.provider.name, "the stream ended before the answer was complete")
        tail = (citations.flush() if citations else "") + (
            sources_text(parser.search_results) if model.search and not model.silent else "")
        if tail:
            answer.append(tail)
            yield Text(content=tail)
        if parser.message_id is not None:
            self.adapter.conversations.remember(
                self.call.messages, "".join(answer), Turn(self.plan.session_id, parser.message_id, self.token))
        yield Finish(parser.finish)

"""The deepseek-web provider: a user's own web-chat token as an upstream."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import requests

from services.abortable import answer_sent
from services.chat_call import ChatCall
from services.credentials import Token
from services.errors import BadRequest, Forbidden, GatewayError, Unauthorized
from services.prompt import flatten, message_text
from services.providers.deepseek_web import protocol as p
from services.providers.deepseek_web.answer import WebStream
from services.providers.deepseek_web.background import Background
from services.providers.deepseek_web.calls import INVALID_PARENT, WebCalls, mute_end, until_text
from services.providers.deepseek_web.conversations import Conversations, Session
from services.providers.deepseek_web.deletions import MAX_WAITING, Deletions
from services.providers.deepseek_web.drift import Drift
from services.providers.deepseek_web.files import Attachment, collect, upload_all
from services.providers.deepseek_web.links import LinkFetcher
from services.providers.failures import connection_failed, failure
from services.providers.http_body import HttpBody
from services.providers.registry import Provider
from services.settings import Settings

log = logging.getLogger("freeseek")


@dataclass
class Plan:
    """Where a request's answer goes: a new session (whole history as one prompt) or a continuation."""

    prompt: str
    session_id: str | None = None
    parent_id: int | None = None
    owner: Token | None = None
    named: bool = False   # the client named it (conversation_id), rather than resending a known history

    @property
    def continues(self) -> bool:
        """Whether the answer continues an upstream session that already holds the history."""
        return self.parent_id is not None


class WebChat:
    """Speaks the web chat protocol (docs/deepseek-web.md); every name of it lives in protocol.py."""

    def __init__(self, provider: Provider, http: requests.Session, settings: Settings,
                 conversations: Conversations | None = None, drift: Drift | None = None):
        self.provider, self.http, self.settings = provider, http, settings
        self.drift = drift or Drift()  # the worker's drift watch: what the web chat sent that we do not know
        self.calls = WebCalls(provider, http, settings, self.drift)
        self.fetcher = LinkFetcher(settings)
        # In this worker's memory, or shared by every worker (services/store/redis_conversations.py).
        self.conversations = conversations or Conversations(settings.web_session_idle_seconds)
        self._lock = threading.Lock()
        self._janitor: threading.Thread | None = None
        self.stopping: set[threading.Thread] = set()   # stop_stream calls under way (a shutdown waits for them)
        self._kept: dict[Token, str] = {}               # account -> its long-lived session (reuse mode)
        # Idle sessions on their way out: each account paced like a person clearing a sidebar, accounts side by side.
        self.deletions = Deletions(self._delete_session, settings.web_delete_gap_seconds)

    # ---- planning ----------------------------------------------------------------------------------

    def continuation(self, call: ChatCall) -> Plan | None:
        """A native continuation (conversation_id, or a resent history we answered before), if this is one."""
        last_user = message_text(call.messages[-1].get("content")) if call.messages else ""
        conversation_id = call.body.get("conversation_id")
        if isinstance(conversation_id, str) and "@" in conversation_id:
            session_id, _, message_id = conversation_id.rpartition("@")
            if session_id and message_id.isdigit():
                return Plan(last_user, session_id, int(message_id), self.conversations.owner(session_id), True)
        turn = self.conversations.match(call.messages)
        if turn is not None:
            return Plan(last_user, turn.session_id, turn.message_id, turn.token)
        return None

    def pin(self, call: ChatCall, tokens: list[Token]) -> list[Token]:
        """A continuation must stay on the account that owns its session; its images and files are read now."""
        plan = self.continuation(call)
        owner = plan.owner if plan else None
        # Read (and fetch, if linked) before any account is leased: a slow link holds no account while it loads,
        # and a bad file is the client's 400 at once. open() below decides the same way, so it finds them read.
        self.attachments(call, plan is not None and (owner is None or owner in tokens))
        return [owner] if owner is not None and owner in tokens else tokens

    def model_type(self, call: ChatCall) -> str:
        """The web chat's model for this request: its standard one, or "expert" for expert/pro names."""
        return self.settings.web_expert_model_type if call.model.expert else self.settings.web_model_type

    def attachments(self, call: ChatCall, continues: bool) -> list[Attachment]:
        """The images and files to upload: the new turn's when continuing, else the whole history's."""
        key = ("deepseek-web attachments", continues)
        if key not in call.extracted:  # read once per request: a failover does not fetch links again
            call.extracted[key] = collect(call.messages[-1:] if continues else call.messages, self.settings,
                                          self.fetcher)
        return call.extracted[key]

    # ---- the answer --------------------------------------------------------------------------------

    def open(self, call: ChatCall, token: Token) -> WebStream:
        """Start the answer: continuing the conversation's session when there is one, else in a new session."""
        plan = self.continuation(call)
        if plan is None or plan.owner not in (None, token):
            # A new session with the whole history as one prompt (another account cannot continue a session).
            plan = Plan(flatten(call.messages))
        try:
            return self._start(call, token, plan)
        except GatewayError as error:
            if error.code != INVALID_PARENT or not plan.continues:
                raise
            if plan.named:
                raise failure(BadRequest(
                    f"The web chat refuses to continue conversation_id '{plan.session_id}@{plan.parent_id}': that "
                    "message cannot be continued (already answered, or unknown). Send the id of the latest answer, "
                    "or leave conversation_id out to start anew.", param="conversation_id"),
                    token_state=None, retryable=False) from None
        # A resent history (a "regenerate") whose last answer the web chat will not continue again: the whole
        # history goes to a new session, as for any conversation the gateway does not know.
        log.info("request %s: the web chat refused to continue session %s at message %s (account %s); answering "
                 "in a new session with the whole history", call.id, plan.session_id, plan.parent_id, token.ref)
        return self._start(call, token, Plan(flatten(call.messages)))

    def _start(self, call: ChatCall, token: Token, plan: Plan) -> WebStream:
        """Create a session, upload files and solve the challenge at the same time, then start the answer."""
        attachments = self.attachments(call, plan.continues)
        if getattr(self.conversations, "shared", False):
            self._start_janitor()  # sessions of a worker that died are deleted by whichever is alive
        cancel = threading.Event()
        if plan.session_id is None and self.settings.web_reuse_session:
            plan.session_id = self._kept_session(token)  # a one-shot request in the account's long-lived chat
        session = Background(self._new_session, token) if plan.session_id is None else None
        uploads = Background(upload_all, self.calls, token, attachments, call.model.reasoning,
                              self.settings.web_upload_timeout, cancel) if attachments else None
        try:
            pow_header = self.calls.pow_header(token, p.COMPLETION)
            if session is not None:
                plan.session_id = session.result()
            file_ids = uploads.result() if uploads is not None else []
        finally:
            cancel.set()  # uploads still running belong to an attempt that failed
        body = p.completion_body(plan.session_id, plan.parent_id, self.model_type(call), plan.prompt, file_ids,
                                 call.model.reasoning, call.search, self.settings.web_completion_extra)

        def send(header: str | None) -> HttpBody:
            answer_sent()  # the account's pace counts this answer now (and may still refuse it)
            return self.post_stream(token, p.COMPLETION, body, plan.session_id, header)
        stream = self.calls.with_pow(token, p.COMPLETION, send, first=pow_header)
        return WebStream(self, call, token, plan.session_id, stream)

    def resume(self, token: Token, session_id: str, message_id: int) -> HttpBody:
        """Open the stream that continues a cut answer (with a challenge only if the service asks for one)."""
        body = p.continue_body(session_id, message_id)
        return self.calls.with_pow(token, p.CONTINUE, lambda header: self.post_stream(
            token, p.CONTINUE, body, session_id, header), first=None)

    def post_stream(self, token: Token, path: str, body: dict, session_id: str, pow_header: str | None) -> HttpBody:
        """POST a call that answers with an event stream; a JSON reply instead is classified as an error."""
        headers = {**self.calls.headers(token, session_id), **({p.POW_HEADER: pow_header} if pow_header else {})}
        try:
            response = self.http.post(self.provider.url(path), json=body, stream=True, headers=headers,
                                      timeout=self.settings.upstream_timeout)
        except requests.RequestException:
            raise connection_failed(self.provider.name, "could not start the answer") from None
        http_body = HttpBody(response)
        if "text/event-stream" not in response.headers.get("Content-Type", ""):
            content = http_body.read_all(65536)
            http_body.close()
            self.calls.reply(token, response.status_code, response.headers, content)
            raise connection_failed(self.provider.name, "the answer did not start a stream")
        return http_body

    def _new_session(self, token: Token) -> str:
        data = self.calls.call(token, "POST", p.CREATE_SESSION, p.create_session_body())
        data = data if isinstance(data, dict) else {}
        nested = data.get("chat_session") if isinstance(data.get("chat_session"), dict) else {}
        session_id = next((v for v in (data.get("id"), nested.get("id")) if isinstance(v, str) and v), None)
        if not session_id:
            raise failure(Forbidden(f"{self.provider.name}: account {token.ref} may not open a chat session "
                                    "(empty reply: the account or this IP is banned)."), token_state="dead",
                          retryable=True)
        self.conversations.created(session_id, token)
        self._start_janitor()
        if self.settings.web_reuse_session:
            with self._lock:
                self._kept[token] = session_id
        return session_id

    def _kept_session(self, token: Token) -> str | None:
        """The account's long-lived session (FREESEEK_WEB_REUSE_SESSION), while the gateway still tracks it."""
        with self._lock:
            session_id = self._kept.get(token)
        return session_id if session_id and self.conversations.owner(session_id) == token else None

    def check(self, token: Token) -> dict:
        """Ask `users/current` whether the web token is live, and whether its account is muted or banned; a
        mute or ban comes with its error under "error", so the pool rests the account before any completion."""
        try:
            user = self.calls.call(token, "GET", p.CURRENT_USER)
        except Unauthorized:
            return {"live": False, "state": "dead"}
        except Forbidden as error:
            if error.code == "account_banned":
                return {"live": False, "state": "banned", "detail": error.message, "error": error}
            if error.code != "account_muted":
                raise
            until = time.time() + error.retry_after if error.retry_after else None
            return {"live": True, "state": "muted", "muted_until": until_text(until) if until else None,
                    "error": error}
        muted, until = p.mute_state(user if isinstance(user, dict) else {})
        until = mute_end(until, time.time())
        if muted:
            return {"live": True, "state": "muted", "muted_until": until_text(until) if until else None,
                    "error": self.calls.muted(token, until)}
        return {"live": True, "state": "ok"}

    # ---- after the answer ----------------------------------------------------------------------------

    def stop_later(self, token: Token, session_id: str, message_id: int) -> threading.Thread:
        """Tell the web chat to stop generating an answer nobody reads (in the background); the call's thread."""
        def stop():
            try:
                self.calls.call(token, "POST", p.STOP_STREAM, p.stop_stream_body(session_id, message_id))
            except Exception as exc:  # best effort: the stream is already closed on our side
                log.info("stop_stream for %s failed: %s", token.ref, getattr(exc, "message", exc))
            finally:
                self.stopping.discard(thread)
        thread = threading.Thread(target=stop, daemon=True)
        self.stopping.add(thread)
        thread.start()
        return thread

    def _start_janitor(self) -> None:
        """Run the deleter of idle sessions while any session is tracked."""
        if not self.settings.web_delete_sessions:
            return
        with self._lock:
            if self._janitor is None or not self._janitor.is_alive():
                self._janitor = threading.Thread(target=self._delete_idle_sessions, daemon=True)
                self._janitor.start()

    def _delete_idle_sessions(self) -> None:
        """Hand idle sessions to the deletions while any session is tracked."""
        period = max(0.05, min(30.0, self.settings.web_session_idle_seconds / 4))
        while self.conversations.tracked():
            time.sleep(period)
            room = MAX_WAITING - self.deletions.waiting()   # the rest stay scheduled, for later or another worker
            if room > 0:
                self.deletions.add(self.conversations.pop_idle(room))

    def _delete_session(self, session: Session) -> None:
        """Delete one session in the web chat, as its account's user would in the sidebar."""
        self.calls.call(session.token, "POST", p.DELETE_SESSION, p.delete_session_body(session.id))

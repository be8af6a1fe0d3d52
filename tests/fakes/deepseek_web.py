"""A fake chat.deepseek.com: a real HTTP/1.1 server on loopback that follows the web chat protocol.

It checks the client's identity headers, every proof-of-work answer (with an independent DeepSeekHashV1),
the completion body, continuation of cut answers and file uploads; it serves the old and current stream
formats, refuses a second concurrent answer per account, plays every scripted account state (one refuses to
continue a message twice, biz_code 26, as a "regenerate" of the same history asks), and records what it
received. Rule breaks land in `violations`. Streams come from tests/fakes/web_streams.py.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid

from werkzeug.wrappers import Request, Response

from tests.fakes import web_wire as w
from tests.fakes.loopback import LoopbackServer
from tests.fakes.web_account import Account
from tests.fakes.web_drift import drifted_events, drifted_reply
from tests.fakes.web_files import FileStore
from tests.fakes.web_streams import STREAM_HEADERS, Turn, completion_events, continue_events, empty_events, plan

__all__ = ["Account", "FakeWebChat"]


class FakeWebChat(FileStore, LoopbackServer):
    """`with FakeWebChat() as web:`; `web.url` is its base URL; `web.account(token, **knobs)` scripts a token."""

    def __init__(self, difficulty: int = 1500, min_version: str = "2.0.3", pow_answer: int | None = None) -> None:
        self.difficulty = difficulty                   # of every challenge issued from now on
        self.min_version = min_version                 # below it: empty answers and failing continues
        self.pow_answer = pow_answer                   # fixes every challenge's solution (None: random)
        self.accounts: dict[str, Account] = {}
        self.sessions: dict[str, str] = {}             # session id -> token
        self.completions: list[dict] = []              # accepted completion calls (the body's fields, named)
        self.continues: list[dict] = []                # accepted continue calls
        self.uploads: list[dict] = []                  # accepted uploads: token, file_name, content_type, bytes, id
        self.stops: list[dict] = []
        self.deletions: list[str] = []
        self.requests: list[dict] = []                 # every call: path, method, token, json, headers
        # Every answer streamed (completions and continues): token, start and end on `clock`.
        self.answers: list[dict] = []
        self.clock = time.monotonic
        self.deletion_times: list[float] = []          # when each deletion arrived, on `clock`
        self.violations: list[str] = []                # broken rules: identity, PoW, bodies, concurrency, files
        self.disconnected = threading.Event()          # a client left a stream early
        self.deleted = threading.Event()
        self.stopped = threading.Event()
        self._completion_came = threading.Event()      # a completion arrived (ends a held stop_stream)
        self._pow = w.PowBook()
        self._active: dict[str, dict] = {}             # token -> its answer (in self.answers) while it streams
        self._next_message: dict[str, int] = {}        # session -> last message id
        self._cut: dict[str, dict] = {}                # session -> {"message_id", "turn"} of its cut answer
        self._parents: set[tuple[str, int]] = set()    # (session, message id) already continued: not again
        self._counts: dict[tuple[str, str], int] = {}  # (token, what) -> how many so far
        self._files: dict[str, dict] = {}
        self._lock = threading.Lock()
        super().__init__()
        self.url = self.root

    def account(self, token: str, **knobs) -> str:
        """Script a token's account (its counters start again: pow_once, continue_fails, uploads); returns it."""
        self.accounts[token] = Account(**knobs)
        with self._lock:
            self._counts = {key: n for key, n in self._counts.items() if key[0] != token}
        return token

    # ---- the server --------------------------------------------------------------------------------

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        body = request.get_json(silent=True) if request.method == "POST" else None
        self.requests.append({"path": request.path, "method": request.method, "token": token, "json": body,
                              "headers": dict(request.headers)})
        try:
            return self._route(request, token, body if isinstance(body, dict) else {})(environ, start_response)
        finally:
            request.close()  # uploads' spooled files

    def _route(self, request: Request, token: str, body: dict) -> Response:
        account = self.accounts.get(token) or Account()
        refusal = self._identity(request) or self._account_state(account)
        if refusal is not None:
            return refusal
        handler = {("GET", w.USERS_CURRENT): lambda: self._user(token, account),
                   ("POST", w.CREATE_SESSION): lambda: self._create_session(request, token, account),
                   ("POST", w.CREATE_POW): lambda: self._create_pow(body),
                   ("POST", w.COMPLETION): lambda: self._completion(request, token, account, body),
                   ("POST", w.CONTINUE): lambda: self._continue(request, token, account, body),
                   ("POST", w.STOP_STREAM): lambda: self._stop(token, body),
                   ("POST", w.DELETE_SESSION): lambda: self._delete(account, body),
                   ("POST", w.UPLOAD): lambda: self._upload(request, token, account),
                   ("GET", w.FETCH_FILES): lambda: self._fetch_files(request, token, account),
                   }.get((request.method, request.path))
        if handler is None:
            return Response("not found", 404)
        return drifted_reply(account, request.path, handler) if account.drift else handler()

    def _identity(self, request: Request) -> Response | None:
        """Note identity headers a current web client would not send; refuse very old client versions."""
        headers, path = request.headers, request.path
        if "X-App-Version" in headers:
            self.violations.append(f"X-App-Version sent on {path}")
        if headers.get("Origin") != self.url:
            self.violations.append(f"Origin {headers.get('Origin')!r} on {path}, not {self.url}")
        encodings = {part.split(";")[0].strip().lower() for part in headers.get("Accept-Encoding", "").split(",")}
        if encodings & {"br", "zstd"}:
            self.violations.append(f"Accept-Encoding {headers.get('Accept-Encoding')!r} on {path}")
        if headers.get("X-Client-Platform") != "web":
            return w.envelope(40000, "missing client headers")
        if w.version(headers.get("X-Client-Version")) < (2, 0, 0):
            return w.envelope(40005, "CLIENT_VERSION_TOO_LOW")
        return None

    def _account_state(self, account: Account) -> Response | None:
        """The states that answer every call alike."""
        if account.state == "blocked":
            return Response("<html><body>Access denied</body></html>", 403, mimetype="text/html")
        if account.state == "waf":
            return Response(b"", 202, headers={"x-amzn-waf-action": "challenge"})
        if account.state == "challenge":
            return Response("<html><title>Just a moment...</title></html>", account.challenge_status,
                            mimetype="text/html", headers={"cf-mitigated": "challenge"})
        if account.state == "dead":
            return w.envelope(40003, "Authorization Failed (invalid token)")
        if account.state == "banned":
            return w.biz_error(10, "USER_IS_BANNED")
        if account.state == "risk":
            return w.biz_error(11, "RISK_DEVICE_DETECTED")
        return None

    def _answer_gate(self, account: Account) -> Response | None:
        """The states that refuse answers (completions and continues) only."""
        if account.state == "busy":
            return w.biz_error(1, w.RATE_LIMIT_TEXT)
        if self._muted(account):
            return w.biz_error(5, "user is muted", {"mute_until": account.mute_until})
        if account.state == "overloaded":
            return w.envelope(account.overload_code, "Service is overloaded, please try again later")
        if account.state == "server_error":
            return Response("Bad Gateway", 502, mimetype="text/plain")  # an HTML page would read as a WAF block
        return None

    def _muted(self, account: Account) -> bool:
        return account.state == "muted" and account.mute_until > time.time()

    def _count(self, token: str, what: str) -> int:
        """How many times `what` happened before for this token (and count this one)."""
        with self._lock:
            n = self._counts.get((token, what), 0)
            self._counts[(token, what)] = n + 1
        return n

    def _old_client(self, request: Request) -> bool:
        return w.version(request.headers.get("X-Client-Version")) < w.version(self.min_version)

    # ---- calls ---------------------------------------------------------------------------------------

    def _user(self, token: str, account: Account) -> Response:
        mute = {"is_muted": self._muted(account), "mute_until": account.mute_until if self._muted(account) else 0}
        user = {"id": "user-1", "email": "a***@example.com", "token": token, "is_mainland": False, "chat": {}}
        if account.mute_where in ("chat", "both"):
            user["chat"] = dict(mute)
        if account.mute_where in ("top", "both"):
            user.update(mute)
        return w.ok(user)

    def _create_session(self, request: Request, token: str, account: Account) -> Response:
        body = request.get_json(silent=True)
        if body not in ({}, {"character_id": None}):
            self.violations.append(f"session create body {body!r}")
        session_id = str(uuid.uuid4())
        self.sessions[session_id] = token
        session = {"id": session_id, "seq_id": 1, "agent": "chat", "title": None}
        reply = {"id": {**session}, "chat_session": {"chat_session": session},
                 "both": {**session, "chat_session": session}}[account.session_reply]
        return w.ok({**reply, "ttl_seconds": 259200})

    def _create_pow(self, body: dict) -> Response:
        target = body.get("target_path")
        if target not in w.POW_PATHS:
            self.violations.append(f"challenge asked for target_path {target!r}")
        return w.ok({"challenge": self._pow.issue(target, self.difficulty, self.pow_answer)})

    def _pow_refusal(self, request: Request, target_path: str) -> Response | None:
        """40301 unless the call carries a right answer to a fresh challenge for its own path."""
        reason = self._pow.check(request.headers.get(w.POW_HEADER), target_path)
        if reason is None:
            return None
        self.violations.append(f"proof of work on {target_path}: {reason}")
        return w.envelope(40301, "INVALID_POW_RESPONSE")

    def _completion(self, request: Request, token: str, account: Account, body: dict) -> Response:
        refusal = self._pow_refusal(request, w.COMPLETION)
        if refusal is not None:
            return refusal
        if account.state == "pow_always" or (account.state == "pow_once" and self._count(token, "pow") == 0):
            return w.envelope(40301, "INVALID_POW_RESPONSE")  # a right answer, refused all the same
        missing = [name for name in w.COMPLETION_FIELDS if name not in body]
        if missing:
            self.violations.append(f"completion body lacks {', '.join(missing)}")
            return w.biz_error(40000, f"missing fields: {', '.join(missing)}")
        session_id = body["chat_session_id"]
        if self.sessions.get(session_id) != token:
            return w.biz_error(40400, "chat session not found")
        if request.headers.get("Referer") != f"{self.url}/a/chat/s/{session_id}":
            self.violations.append(f"completion Referer {request.headers.get('Referer')!r}")
        parent = body["parent_message_id"]
        if parent is not None and account.parent_once and (session_id, parent) in self._parents:
            return w.biz_error(w.INVALID_MESSAGE_ID, "invalid message id")  # a message already answered
        refusal = self._answer_gate(account)
        if refusal is not None:
            return refusal
        if body["model_type"] not in w.MODEL_TYPES:
            self.violations.append(f"model_type {body['model_type']!r}")
            return w.biz_error(40000, "unknown model_type")
        files = body["ref_file_ids"] if isinstance(body["ref_file_ids"], list) else [body["ref_file_ids"]]
        unready = [f for f in files if not self.file_ready(token, f)]
        if unready:
            self.violations.append(f"ref_file_ids not uploaded by this account or not SUCCESS: {unready}")
            return w.biz_error(40400, "file not found or not ready")
        message_id = self._begin(token, session_id)
        self._completion_came.set()
        if message_id is None:
            return w.biz_error(40302, "a reply is already being generated")
        if parent is not None:
            self._parents.add((session_id, parent))
        self.completions.append({"token": token, "session": session_id, "parent": parent,
                                 "prompt": body["prompt"], "thinking": body["thinking_enabled"],
                                 "search": body["search_enabled"], "message_id": message_id,
                                 "model_type": body["model_type"], "ref_file_ids": files,
                                 "preempt": body["preempt"], "action": body["action"], "source": body["source"]})
        self._cut.pop(session_id, None)  # a new message: the session's earlier cut answer is history
        if self._old_client(request):
            return self._sse(token, account, empty_events(message_id, body["model_type"]))
        turn = plan(account, body["prompt"] or "", message_id, bool(body["thinking_enabled"]),
                    bool(body["search_enabled"]), body["model_type"], len(files))
        refused = account.toast or account.state == "unsupported" or (account.hint and not account.hint_answer) \
            or (body["model_type"] == "expert" and account.expert_refused)
        if turn.can_continue and not refused:
            self._cut[session_id] = {"message_id": message_id, "turn": turn}
        return self._sse(token, account, completion_events(account, dataclasses.replace(turn)))

    def _continue(self, request: Request, token: str, account: Account, body: dict) -> Response:
        # No PoW by default; one that is sent must be right; with `continue_pow` a missing one is refused.
        if request.headers.get(w.POW_HEADER) or account.continue_pow:
            if not request.headers.get(w.POW_HEADER):
                return w.envelope(40301, "INVALID_POW_RESPONSE")
            refusal = self._pow_refusal(request, w.CONTINUE)
            if refusal is not None:
                return refusal
        if not {"chat_session_id", "message_id"} <= body.keys() or body.get("fallback_to_resume") is not True:
            self.violations.append(f"continue body {body!r}")
            return w.biz_error(40000, "bad continue body")
        session_id, message_id = body["chat_session_id"], body["message_id"]
        if self.sessions.get(session_id) != token:
            return w.biz_error(40400, "chat session not found")
        refusal = self._answer_gate(account)
        if refusal is not None:
            return refusal
        cut = self._cut.get(session_id)
        if cut is None or cut["message_id"] != message_id:
            self.violations.append(f"continue of message {message_id!r}, not this session's cut answer")
            return w.biz_error(40400, "message not found or not incomplete")
        if self._begin(token, None) is None:
            return w.biz_error(40302, "a reply is already being generated")
        self.continues.append({"token": token, "session": session_id, "message_id": message_id,
                               "pow": bool(request.headers.get(w.POW_HEADER))})
        turn: Turn = cut["turn"]
        if self._old_client(request) or self._count(token, "continue_fails") < account.continue_fails:
            return self._sse(token, account, continue_events(account, dataclasses.replace(
                turn, round=turn.round + 1, no_status=True)))
        turn.round += 1
        if account.continue_new_message:
            turn.ready_id = self._next_id(session_id)
            cut["message_id"] = turn.ready_id
        if not turn.can_continue:
            self._cut.pop(session_id, None)
        return self._sse(token, account, continue_events(account, dataclasses.replace(turn)))

    def _stop(self, token: str, body: dict) -> Response:
        self.stops.append({"token": token, **body})
        account = self.accounts.get(token) or Account()
        if account.stop_hold:
            self._completion_came.clear()
            self._completion_came.wait(account.stop_hold)
        with self._lock:
            answer = self._active.pop(token, None)  # the live service stops generating: the account may answer
            if answer is not None:
                answer["end"] = self.clock()
        self.stopped.set()
        return w.ok(None)

    def _delete(self, account: Account, body: dict) -> Response:
        if account.delete_hold is not None:
            account.delete_hold.wait(60)
        self.deletion_times.append(self.clock())
        self.deletions.append(body.get("chat_session_id"))
        self.deleted.set()
        return w.ok(None)

    # ---- streaming -----------------------------------------------------------------------------------

    def _next_id(self, session_id: str) -> int:
        with self._lock:
            message_id = self._next_message.get(session_id, 0) + 2  # the user's message takes the id before
            self._next_message[session_id] = message_id
        return message_id

    def _begin(self, token: str, session_id: str | None) -> int | None:
        """Mark the account answering (a new message id, or 0 for a continue); None if it already is."""
        with self._lock:
            if self._active.get(token):
                self.violations.append("second concurrent answer on one account")
                return None
            answer = {"token": token, "start": self.clock(), "end": None}
            self._active[token] = answer   # this answer, so a stopped one's late end never clears the next
            self.answers.append(answer)
        return self._next_id(session_id) if session_id else 0

    def _sse(self, token: str, account: Account, events) -> Response:
        events = drifted_events(account, events) if account.drift else events
        stream = self._stream(token, account, events, self._active.get(token))
        return Response(stream, mimetype="text/event-stream", headers=STREAM_HEADERS, direct_passthrough=True)

    def _stream(self, token: str, account: Account, events, answer: dict | None):
        try:
            counted = 0
            for event in events:
                if not event.startswith(":"):  # cut_after counts events, not keep-alive comments
                    if account.cut_after is not None and counted >= account.cut_after:
                        raise ConnectionAbortedError("scripted cut")
                    counted += 1
                yield from self._write(account, event)
        except GeneratorExit:
            self.disconnected.set()
            if account.keeps_generating:
                answer = None   # still generating upstream: only stop_stream ends it
            raise
        finally:
            with self._lock:
                if answer is not None and self._active.get(token) is answer:
                    self._active.pop(token)
                if answer is not None and answer["end"] is None:
                    answer["end"] = self.clock()

    def _write(self, account: Account, text: str):
        if account.pace:
            time.sleep(account.pace)
        data = text.encode()
        step = account.split_bytes or len(data)
        for i in range(0, len(data), step):
            yield data[i:i + step]

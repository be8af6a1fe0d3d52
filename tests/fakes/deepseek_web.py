"""A fake chat.deepseek.com: a real HTTP/1.1 server on loopback that follows specs/deepseek-web.md.

It checks every proof-of-work answer with an independent DeepSeekHashV1, serves the three stream formats,
refuses a second concurrent answer per account, answers 40003 for dead tokens and HTML for blocked ones, and
records what it received.
"""

from __future__ import annotations

import base64
import json
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable

from werkzeug.wrappers import Request, Response

from tests.fakes.loopback import LoopbackServer

from tests.fakes.keccak_reference import deepseek_hash_hex


@dataclass
class Account:
    """How the fake treats one web token."""

    state: str = "ok"                 # "ok", "dead" (40003), "blocked" (HTML), "busy" (rate-limited), "banned"
    format: str = "patch"             # "patch", "fragments" or "legacy"
    # Answer pieces, or a callable `text(prompt) -> pieces`; default "echo: <last line of the prompt>" in pieces.
    text: list[str] | Callable[[str], list[str]] | None = None
    thinking: list[str] = field(default_factory=lambda: ["Let me ", "think."])
    pace: float = 0.0
    cut_after: int | None = None      # drop the connection after this many stream events
    incomplete: bool = False          # end with status INCOMPLETE
    toast: bool = False               # send a toast error instead of an answer
    keepalives: int = 0               # comments before the answer
    split_bytes: int = 0


class FakeWebChat(LoopbackServer):
    """`with FakeWebChat() as web:`; `web.url` is its base URL."""

    def __init__(self, difficulty: int = 1500) -> None:
        self.difficulty = difficulty
        self.accounts: dict[str, Account] = {}
        self.sessions: dict[str, str] = {}            # session id -> token
        self.completions: list[dict] = []
        self.stops: list[dict] = []
        self.deletions: list[str] = []
        self.requests: list[dict] = []
        self.violations: list[str] = []                # broken rules: reused or wrong PoW, concurrent answers
        self.disconnected = threading.Event()
        self.deleted = threading.Event()
        self.stopped = threading.Event()
        self._challenges: dict[str, dict] = {}
        self._active: dict[str, int] = {}
        self._next_message: dict[str, int] = {}
        self._lock = threading.Lock()
        super().__init__()
        self.url = self.root


    def account(self, token: str, **kwargs) -> str:
        """Script a token's account; returns the token."""
        self.accounts[token] = Account(**kwargs)
        return token

    # ---- the server --------------------------------------------------------------------------------

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        body = request.get_json(silent=True) if request.method == "POST" else None
        self.requests.append({"path": request.path, "token": token, "json": body, "headers": dict(request.headers)})
        return self._route(request, token, body or {})(environ, start_response)

    def _route(self, request: Request, token: str, body: dict) -> Response:
        account = self.accounts.get(token, Account())
        if request.headers.get("X-Client-Platform") != "web":
            return _envelope_error(40000, "missing client headers")
        if account.state == "blocked":
            return Response("<html><body>Access denied</body></html>", 403, mimetype="text/html")
        if account.state == "dead":
            return Response(json.dumps({"code": 40003, "msg": "Authorization Failed (invalid token)",
                                        "data": None}), mimetype="application/json")
        path = request.path
        if path == "/api/v0/users/current" and request.method == "GET":
            return _ok({"id": "user-1", "email": "a***@example.com", "token": token})
        if path == "/api/v0/chat_session/create":
            if account.state == "banned":
                return _ok(None)
            session_id = str(uuid.uuid4())
            self.sessions[session_id] = token
            return _ok({"id": session_id, "seq_id": 1, "agent": "chat"})
        if path == "/api/v0/chat/create_pow_challenge":
            return _ok({"challenge": self._challenge(body.get("target_path"))})
        if path == "/api/v0/chat/completion":
            return self._completion(request, token, account, body)
        if path == "/api/v0/chat/stop_stream":
            self.stops.append({"token": token, **body})
            self.stopped.set()
            return _ok(None)
        if path == "/api/v0/chat_session/delete":
            self.deletions.append(body.get("chat_session_id"))
            self.deleted.set()
            return _ok(None)
        return Response("not found", 404)

    def _challenge(self, target_path: str) -> dict:
        salt = "%020x" % random.getrandbits(80)
        expire_at = int(time.time() * 1000) + 300_000
        answer = random.randrange(self.difficulty)
        challenge = {"algorithm": "DeepSeekHashV1", "challenge": deepseek_hash_hex(f"{salt}_{expire_at}_{answer}".encode()),
                     "salt": salt, "difficulty": self.difficulty, "expire_at": expire_at, "expire_after": 300000,
                     "signature": uuid.uuid4().hex, "target_path": target_path}
        self._challenges[challenge["challenge"]] = challenge
        return challenge

    def _pow_ok(self, header: str | None) -> bool:
        try:
            answer = json.loads(base64.b64decode(header or ""))
        except ValueError:
            return False
        challenge = self._challenges.pop(answer.get("challenge"), None)  # single use
        if challenge is None or answer.get("signature") != challenge["signature"]:
            return False
        if answer.get("target_path") != "/api/v0/chat/completion" or answer.get("salt") != challenge["salt"]:
            return False
        message = f"{challenge['salt']}_{challenge['expire_at']}_{answer.get('answer')}".encode()
        return isinstance(answer.get("answer"), int) and deepseek_hash_hex(message) == challenge["challenge"]

    def _completion(self, request: Request, token: str, account: Account, body: dict) -> Response:
        if not self._pow_ok(request.headers.get("X-Ds-Pow-Response")):
            self.violations.append("proof of work missing, wrong or reused")
            return _envelope_error(40301, "invalid pow response", biz=True)
        session_id = body.get("chat_session_id")
        if self.sessions.get(session_id) != token:
            return _envelope_error(40400, "chat session not found", biz=True)
        if account.state == "busy":
            return _envelope_error(0, "您的请求频率过快，请稍后再试 (too frequent)", biz=True)
        with self._lock:
            if self._active.get(token):
                self.violations.append("second concurrent answer on one account")
                return _envelope_error(40302, "a reply is already being generated", biz=True)
            self._active[token] = 1
            message_id = self._next_message.get(session_id, 1) + 1
            self._next_message[session_id] = message_id
        self.completions.append({"token": token, "session": session_id, "parent": body.get("parent_message_id"),
                                 "prompt": body.get("prompt"), "thinking": body.get("thinking_enabled"),
                                 "search": body.get("search_enabled"), "message_id": message_id})
        return Response(self._stream(token, account, body, message_id), mimetype="text/event-stream",
                        direct_passthrough=True)

    def _stream(self, token: str, account: Account, body: dict, message_id: int):
        try:
            for _ in range(account.keepalives):
                yield from self._write(account, ": keep-alive\n\n")
            if account.toast:
                yield from self._write(account, 'event: toast\ndata: {"type":"error","content":"Server busy, '
                                                'please try again later.","finish_reason":"server_busy"}\n\n')
                return
            pieces = self._pieces(account, body)
            thinking = account.thinking if body.get("thinking_enabled") else []
            search = bool(body.get("search_enabled"))
            events = {"patch": _patch_events, "fragments": _fragment_events, "legacy": _legacy_events}[account.format]
            for i, line in enumerate(events(message_id, thinking, pieces, search, account.incomplete)):
                if account.cut_after is not None and i >= account.cut_after:
                    raise ConnectionAbortedError("scripted cut")
                yield from self._write(account, line)
        except GeneratorExit:
            self.disconnected.set()
            raise
        finally:
            with self._lock:
                self._active.pop(token, None)

    def _pieces(self, account: Account, body: dict) -> list[str]:
        if callable(account.text):
            return account.text(body.get("prompt") or "")
        if account.text is not None:
            return account.text
        last = (body.get("prompt") or "").splitlines()[-1] if body.get("prompt") else ""
        text = f"echo: {last}"
        return [text[:5], text[5:9], text[9:]]

    def _write(self, account: Account, text: str):
        if account.pace:
            time.sleep(account.pace)
        data = text.encode()
        step = account.split_bytes or len(data)
        for i in range(0, len(data), step):
            yield data[i:i + step]


SEARCH_RESULTS = [{"url": "https://example.org/a", "title": "Page A", "snippet": "a", "cite_index": None},
                  {"url": "https://example.org/b", "title": "Page B", "snippet": "b", "cite_index": None}]


def _data(obj) -> str:
    return "data: " + json.dumps(obj, ensure_ascii=False) + "\n\n"


def _patch_events(message_id, thinking, pieces, search, incomplete):
    yield f'event: ready\ndata: {{"request_message_id": {message_id - 1}, "response_message_id": {message_id}}}\n\n'
    yield 'event: update_session\ndata: {"updated_at": 1.5}\n\n'
    yield _data({"v": {"response": {"message_id": message_id, "parent_id": message_id - 1, "thinking_content": None,
                                    "content": "", "search_results": None, "status": "WIP"}}})
    if search:
        yield _data({"p": "response/search_status", "v": "SEARCHING"})
        yield _data({"p": "response/search_results", "v": SEARCH_RESULTS})
        yield _data({"p": "response/search_results", "o": "BATCH",
                     "v": [{"p": "0/cite_index", "v": 1}, {"p": "1/cite_index", "v": 2}]})
    if thinking:
        yield _data({"p": "response/thinking_content", "v": thinking[0]})
        for piece in thinking[1:]:
            yield _data({"v": piece})
        yield _data({"p": "response/thinking_elapsed_secs", "o": "SET", "v": 1})
    if search:
        pieces = pieces[:1] + [" [cita", "tion:1] and [citation:2]"] + pieces[1:]
    yield _data({"p": "response/content", "o": "APPEND", "v": pieces[0]})
    for piece in pieces[1:]:
        yield _data({"v": piece})
    yield _data({"p": "response/status", "o": "SET", "v": "INCOMPLETE" if incomplete else "FINISHED"})
    yield 'event: title\ndata: {"content": "A title with FINISHED in it"}\n\n'
    yield 'event: close\ndata: {"click_behavior": "none"}\n\n'


def _fragment_events(message_id, thinking, pieces, search, incomplete):
    yield f'event: ready\r\ndata: {{"request_message_id": {message_id - 1}, "response_message_id": {message_id}}}\r\n\r\n'
    yield _data({"v": {"response": {"message_id": message_id, "fragments": [], "status": "WIP"}}})
    if thinking:
        yield _data({"p": "response/fragments", "o": "APPEND", "v": [{"id": 1, "type": "THINK", "content": thinking[0]}]})
        for piece in thinking[1:]:
            yield _data({"p": "response/fragments/-1/content", "v": piece})
        yield _data({"p": "response/fragments/-1/elapsed_secs", "o": "SET", "v": 1.5})
        yield _data({"p": "response/fragments/-1/status", "v": "FINISHED"})
    yield _data({"p": "response/fragments", "o": "APPEND", "v": [{"id": 2, "type": "RESPONSE", "content": pieces[0]}]})
    if len(pieces) > 1:
        yield _data({"p": "response/fragments/-1/content", "o": "APPEND", "v": pieces[1]})
        for piece in pieces[2:]:
            yield _data({"v": piece})
    yield _data({"p": "response", "o": "BATCH", "v": [{"p": "accumulated_token_usage", "v": 41},
                                                       {"p": "quasi_status", "v": "INCOMPLETE" if incomplete
                                                        else "FINISHED"}]})
    yield 'event: close\r\ndata: {"click_behavior": "none"}\r\n\r\n'


def _legacy_events(message_id, thinking, pieces, search, incomplete):
    base = {"model": "", "message_id": message_id, "parent_id": message_id - 1}
    if search:
        yield _data({**base, "choices": [{"index": 0, "delta": {"type": "search_result",
                                                                "search_results": SEARCH_RESULTS}}]})
    for piece in thinking:
        yield _data({**base, "choices": [{"index": 0, "delta": {"content": piece, "type": "thinking"}}]})
    for piece in pieces:
        yield _data({**base, "choices": [{"index": 0, "delta": {"content": piece, "type": "text"}}]})
    yield _data({**base, "choices": [{"index": 0, "delta": {"content": "", "type": "text"},
                                      "finish_reason": "length" if incomplete else "stop"}]})
    yield "data: [DONE]\n\n"


def _ok(biz_data) -> Response:
    return Response(json.dumps({"code": 0, "msg": "", "data": {"biz_code": 0, "biz_msg": "", "biz_data": biz_data}}),
                    mimetype="application/json")


def _envelope_error(code: int, message: str, biz: bool = False) -> Response:
    if biz:
        payload = {"code": 0, "msg": "", "data": {"biz_code": code or 1, "biz_msg": message, "biz_data": None}}
    else:
        payload = {"code": code, "msg": message, "data": None}
    return Response(json.dumps(payload, ensure_ascii=False), mimetype="application/json")

"""A live self-check of the web chat with a person's own token: the calls a chat makes, each compared with what
the provider expects. `python bin/check-web [--base-url URL] [--capture DIR]` (the README says more)."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import requests

from services.credentials import Token, parse_tokens
from services.errors import GatewayError
from services.gateway import http_session
from services.providers.deepseek_web import drift as d
from services.providers.deepseek_web import protocol as p
from services.providers.deepseek_web.adapter import WebChat
from services.providers.deepseek_web.capture import Recorder
from services.providers.deepseek_web.files import Attachment, upload_all
from services.providers.deepseek_web.stream import WebStreamError, WebStreamParser
from services.providers.registry import Registry
from services.settings import ConfigError, Settings
from services.sse import read_events

DEFAULT_BASE_URL = "https://chat.deepseek.com"
PROMPT = "Reply with the single word: ok"
# The smallest valid PNG (1x1, one transparent pixel): enough for an upload to be read.
TINY_PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                         "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


@dataclass
class Step:
    """One line of the table: the step, what differed from the spec (nothing: ok), and the time it took."""

    name: str
    differences: list[str] = field(default_factory=list)
    seconds: float = 0.0
    note: str = ""

    @property
    def ok(self) -> bool:
        """Whether the step went as the spec says."""
        return not self.differences


class SelfCheck:
    """Runs the steps of one chat against a web chat, noting every difference from what the provider expects."""

    def __init__(self, base_url: str, secret: str, settings: Settings | None = None):
        settings = settings or Settings.from_env()
        registry = Registry.load("", {"deepseek-web": {"base_url": base_url}})
        self.token: Token = parse_tokens(f"deepseek-web:{secret}", registry)[0]
        self.drift = d.Drift(quiet=True)
        # The gateway's own HTTP session: no cookies kept, proxies only when the environment names one.
        self.web = WebChat(registry.get("deepseek-web"), http_session(settings), settings, drift=self.drift)
        self.settings, self.recorder = settings, Recorder()
        self.steps: list[Step] = []
        self.session_id: str | None = None
        self.cut: WebStreamParser | None = None

    def run(self) -> list[Step]:
        """Every step in a chat's order; a step that cannot run for want of an earlier one says so."""
        self.step("current user", self.current_user)
        self.step("session create", self.create_session)
        self.step("PoW challenge + solve", lambda s: self.web.calls.pow_header(self.token, p.COMPLETION) and None)
        self.step("completion (no thinking)", lambda s: self.complete(s, thinking=False))
        self.step("continue if cut", self.resume)
        self.step("completion (thinking)", lambda s: self.complete(s, thinking=True))
        self.step("upload a tiny image", self.upload)
        self.step("session delete", self.delete)
        return self.steps

    def step(self, name: str, action: Callable[[Step], None]) -> None:
        """Time one step; a refusal, an unknown shape or a missing field is a difference."""
        step, mark = Step(name), self.drift.counts()
        started = time.monotonic()
        try:
            action(step)
        except GatewayError as error:
            step.differences.append(f"HTTP {error.status}: {error.message}")
        except (WebStreamError, requests.RequestException) as error:
            step.differences.append(f"{type(error).__name__}: {error}")
        step.seconds = time.monotonic() - started
        step.differences += [f"unknown {line}" for line in self.drift.since(mark)]
        self.steps.append(step)

    def current_user(self, step: Step) -> None:
        user = self.web.calls.call(self.token, "GET", p.CURRENT_USER)
        if not isinstance(user, dict):
            step.differences.append("users/current has no biz_data")
            return
        muted, until = p.mute_state(user)
        step.note = "muted" + (f" until {time.strftime('%Y-%m-%d %H:%M', time.gmtime(until))}" if until else "") \
            if muted else "not muted"

    def create_session(self, step: Step) -> None:
        data = self.web.calls.call(self.token, "POST", p.CREATE_SESSION, p.create_session_body())
        data = data if isinstance(data, dict) else {}
        nested = data.get("chat_session") if isinstance(data.get("chat_session"), dict) else {}
        self.session_id = next((v for v in (data.get("id"), nested.get("id")) if isinstance(v, str) and v), None)
        if not self.session_id:
            step.differences.append("missing field id (nor chat_session.id)")

    def complete(self, step: Step, thinking: bool) -> None:
        if not self._session(step):
            return
        parent = self.cut.message_id if self.cut else None
        body = p.completion_body(self.session_id, parent, self.settings.web_model_type, PROMPT, [], thinking,
                                 False, self.settings.web_completion_extra)
        stream = self.web.calls.with_pow(self.token, p.COMPLETION, lambda header: self.web.post_stream(
            self.token, p.COMPLETION, body, self.session_id, header))
        parser = self._read(step, p.COMPLETION, stream, WebStreamParser(drift=self.drift))
        if thinking and not parser.received.get("reasoning"):
            step.differences.append("no reasoning text with thinking on")

    def resume(self, step: Step) -> None:
        if self.cut is None or self.cut.status != p.STATUS_INCOMPLETE:
            step.note = "not needed: the answer was not cut"
            return
        stream = self.web.resume(self.token, self.session_id, self.cut.message_id)
        self._read(step, p.CONTINUE, stream, WebStreamParser(resume=self.cut))

    def upload(self, step: Step) -> None:
        ids = upload_all(self.web.calls, self.token, [Attachment("check.png", "image/png", TINY_PNG)], False,
                         self.settings.web_upload_timeout, threading.Event())
        if not ids:
            step.differences.append("the upload gave no file id")

    def delete(self, step: Step) -> None:
        if self._session(step):
            self.web.calls.call(self.token, "POST", p.DELETE_SESSION, p.delete_session_body(self.session_id))

    def _session(self, step: Step) -> bool:
        if self.session_id is None:
            step.differences.append("no session to use (session create failed)")
        return self.session_id is not None

    def _read(self, step: Step, call: str, stream, parser: WebStreamParser) -> WebStreamParser:
        """Read one stream to its end and note what differs: no message id, no answer, an odd end."""
        response = stream.response
        kind = d.content_type(response.headers)
        if kind != p.STREAM_TYPE:
            step.differences.append(f"content type {kind}")
        answer = []
        try:
            chunks = self.recorder.tee(call, response.status_code, response.headers, stream.chunks())
            for sse in read_events(chunks):
                answer += [e.content for e in parser.feed(sse) if getattr(e, "content", None)]
                if parser.closed:
                    break
        finally:
            stream.close()
        if parser.message_id is None:
            step.differences.append("no message id (ready event or snapshot)")
        if parser.status is None:
            step.differences.append("ended without a status")
        elif parser.status not in (p.STATUS_FINISHED, p.STATUS_INCOMPLETE):
            step.differences.append(f"ended with status {parser.status}")
        if parser.hint is not None:
            step.differences.append(f"hint {parser.hint.kind}: {parser.hint}")
        if not "".join(answer) and parser.status != p.STATUS_INCOMPLETE:
            step.differences.append("no answer text")
        step.note = f"{parser.status or 'no status'}, {sum(parser.received.values())} characters"
        self.cut = parser
        return parser


def table(steps: list[Step]) -> str:
    """The steps as a table a person reads: step, ok or what differed, seconds."""
    width = max(len(s.name) for s in steps)
    lines = [f"{'step':<{width}}  {'result':<6}  {'seconds':>7}  detail"]
    for s in steps:
        detail = "; ".join(s.differences) if s.differences else s.note
        lines.append(f"{s.name:<{width}}  {'ok' if s.ok else 'DIFFER':<6}  {s.seconds:7.2f}  {detail}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the check; exit 1 when anything differs from the spec, 2 on a usage error."""
    parser = argparse.ArgumentParser(prog="check-web", description=__doc__.split("\n")[0])
    parser.add_argument("--base-url", default=os.environ.get("FREESEEK_CHECK_BASE_URL", DEFAULT_BASE_URL))
    parser.add_argument("--capture", metavar="DIR", help="write the streams the web chat sent to a capture file")
    parser.add_argument("--keep-text", action="store_true", help="keep answer text in the capture")
    args = parser.parse_args(argv)
    # Never from the command line, where other users of the machine can read it.
    secret = os.environ.get("FREESEEK_CHECK_TOKEN") or (getpass.getpass("web userToken: ") if sys.stdin.isatty()
                                                        else sys.stdin.readline().strip())
    if not secret:
        print("check-web: no token (set FREESEEK_CHECK_TOKEN or type it when asked)", file=sys.stderr)
        return 2
    try:
        check = SelfCheck(args.base_url, secret)
    except GatewayError as error:
        print(f"check-web: {error.message}", file=sys.stderr)
        return 2
    except ConfigError as error:
        print(f"check-web: {error}", file=sys.stderr)
        return 2
    steps = check.run()
    print(f"web chat at {args.base_url}, token {check.token.ref}")
    print(table(steps))
    if args.capture:
        print(f"capture: {check.recorder.save(args.capture, args.keep_text)}")
    differ = [s.name for s in steps if not s.ok]
    print(f"{len(differ)} step(s) differ from the spec: {'; '.join(differ)}" if differ else "all steps as expected")
    return 1 if differ else 0

"""Every phase of an attempt can be stopped: deadlines fire on time and a departed client frees the upstream."""

from __future__ import annotations

import threading
import time

import pytest

from app import create_app
from services.completions import Reply
from services.dialects import openai_chat
from tests.conftest import FAST_ENV, provider_overrides
from tests.fakes.faulty_upstream import FaultyUpstream, wait_until
from tests.fakes.stalling_web_chat import StallingWebChat

BODY = {"model": "deepseek-chat", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def faulty():
    with FaultyUpstream() as server:
        yield server


def gateway(api_url: str, web_url: str, **env):
    app = create_app({"env": {**FAST_ENV, **env}, "providers": provider_overrides(api_url, web_url)})
    return app.extensions["freeseek"]


def complete_in_background(gw, token: str, stream: bool, gone: threading.Event) -> dict:
    """Run one completion in a thread, as the HTTP edge does; the result lands in the returned dict."""
    result: dict = {}

    def run():
        try:
            call = openai_chat.parse({**BODY, "stream": stream})
            reply = gw.completions.complete(call, openai_chat.ChatRenderer(call),
                                            gw.completions.tokens_for(f"Bearer {token}"), client_gone=gone.is_set)
            if isinstance(reply, Reply) and not isinstance(reply.body, bytes):
                reply.body = b"".join(reply.body)
            result["reply"] = reply
        except Exception as exc:  # the error a client would get before the first byte
            result["error"] = exc
        result["done"] = time.monotonic()
    result["thread"] = threading.Thread(target=run, daemon=True)
    result["thread"].start()
    return result


@pytest.mark.parametrize("stream", [False, True])
def test_a_client_leaving_while_the_upstream_withholds_headers_closes_it_at_once(faulty, web, stream):
    gw = gateway(faulty.url, web.url, FREESEEK_FIRST_CONTENT_TIMEOUT="60", FREESEEK_IDLE_TIMEOUT="60")
    token = faulty.fault("sk-silent", "stall_headers")
    gone = threading.Event()
    result = complete_in_background(gw, token, stream, gone)
    assert faulty.received[token].wait(5)
    gone.set()
    left = time.monotonic()
    assert faulty.hung_up[token].wait(10), "the upstream still holds the connection"
    print(f"upstream saw the close {time.monotonic() - left:.2f} s after the client left")
    result["thread"].join(5)
    assert result["reply"].status == 499
    account = gw.completions.tokens_for(f"Bearer {token}")[0]
    assert wait_until(lambda: gw.pool.in_flight(account) == 0, 10), "the account is still leased"


def test_a_client_leaving_during_web_session_creation_closes_every_upstream_call(faulty, fake):
    gw = gateway(fake.url, faulty.root, FREESEEK_FIRST_CONTENT_TIMEOUT="60")
    token = faulty.fault("web-silent", "stall_headers")   # session creation and challenge both hang
    gone = threading.Event()
    result = complete_in_background(gw, token, True, gone)
    assert faulty.received[token].wait(5)
    assert wait_until(lambda: faulty.open_connections == 2, 5)
    gone.set()
    assert faulty.hung_up[token].wait(10)
    assert wait_until(lambda: faulty.open_connections == 0, 4), "an upstream call outlived its client"
    result["thread"].join(5)
    assert result["reply"].status == 499


def test_a_client_leaving_while_the_web_completion_withholds_headers_frees_the_account(fake):
    with StallingWebChat() as web:
        gw = gateway(fake.url, web.url, FREESEEK_FIRST_CONTENT_TIMEOUT="60", FREESEEK_FIRST_HEARTBEAT_SECONDS="30")
        web.stall_tokens.add("web-stall")
        gone = threading.Event()
        result = complete_in_background(gw, "web-stall", False, gone)
        assert web.completion_received.wait(10)
        gone.set()
        assert web.completion_hung_up.wait(10)
        result["thread"].join(5)
        assert "reply" in result and result["reply"].status == 499, result
        web.stall_tokens.clear()  # the account is free at once for the next request
        again = complete_in_background(gw, "web-stall", False, threading.Event())
        again["thread"].join(10)
        assert again["reply"].status == 200


@pytest.mark.parametrize("deadline, env", [
    ("FREESEEK_FIRST_CONTENT_TIMEOUT", {"FREESEEK_FIRST_CONTENT_TIMEOUT": "2", "FREESEEK_IDLE_TIMEOUT": "60"}),
    ("FREESEEK_TOTAL_TIMEOUT", {"FREESEEK_FIRST_CONTENT_TIMEOUT": "60", "FREESEEK_IDLE_TIMEOUT": "60",
                                "FREESEEK_TOTAL_TIMEOUT": "2"}),
])
@pytest.mark.parametrize("phase", ["api headers dripping", "web session creation"])
def test_each_deadline_fires_in_every_phase_before_the_first_byte(faulty, fake, web, deadline, env, phase):
    env = dict(env)
    if phase == "api headers dripping":
        # One byte every 0.3 s: no read timeout ever fires, the headers would take a minute.
        token = faulty.fault("sk-drip", "drip", interval=0.3)
    else:
        token = faulty.fault("web-stuck", "stall_headers")
    env["FREESEEK_FIRST_HEARTBEAT_SECONDS"] = "30"  # so the deadline's error is the HTTP status, not in-band
    gw = gateway(*((faulty.url, web.url) if phase.startswith("api") else (fake.url, faulty.root)), **env)
    started = time.monotonic()
    result = complete_in_background(gw, token, False, threading.Event())
    result["thread"].join(20)
    error = result.get("error")
    assert error is not None and error.status == 504 and deadline in error.message, result
    assert result["done"] - started < 8, "the deadline fired late"

"""The status rule in every dialect: before an upstream accepted the request nothing is written (no keep-alive,
no SSE byte), so an error decided before then is a real HTTP status in the dialect's shape."""

from __future__ import annotations

import json
import threading

import pytest

from services.providers.deepseek_web import links
from tests.unit.test_web_files import ImageHost, image_part, with_parts

# Keep-alives would be due almost at once; only an upstream's acceptance may let them out.
EAGER = {"FREESEEK_FIRST_HEARTBEAT_SECONDS": "0.1", "FREESEEK_HEARTBEAT_SECONDS": "0.1",
         "FREESEEK_QUEUE_TIMEOUT": "60"}

ROUTES = {
    "chat": ("/v1/chat/completions", lambda stream: {"model": "deepseek-chat", "stream": stream,
                                                     "messages": [{"role": "user", "content": "hi"}]}),
    "messages": ("/v1/messages", lambda stream: {"model": "claude-sonnet-4-6", "max_tokens": 50, "stream": stream,
                                                 "messages": [{"role": "user", "content": "hi"}]}),
    "responses": ("/v1/responses", lambda stream: {"model": "deepseek-chat", "input": "hi", "stream": stream}),
}


def ask(client, dialect: str, token: str, stream: bool):
    path, body = ROUTES[dialect]
    response = client.post(path, json=body(stream), headers={"Authorization": f"Bearer {token}"})
    response.get_data()
    return response


def error_of(dialect: str, response) -> dict:
    """The error object in the dialect's shape (Anthropic's has a top-level type)."""
    body = response.json
    if dialect == "messages":
        assert body["type"] == "error"
    return body["error"]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("dialect", list(ROUTES))
def test_a_rate_limited_token_is_a_429_in_every_dialect(make_app, fake, dialect, stream):
    client = make_app(**EAGER).test_client()
    key = fake.script(f"sk-rl-{dialect}-{stream}", status=429, headers={"Retry-After": "30"})
    response = ask(client, dialect, key, stream)
    assert response.status_code == 429 and response.headers["Retry-After"] == "30"
    assert error_of(dialect, response)["type"] == "rate_limit_error"


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("dialect", list(ROUTES))
def test_the_web_chats_rate_limit_notice_is_a_429_with_the_accounts_rest(make_app, web, dialect, stream):
    client = make_app(**EAGER, FREESEEK_PRECOMMIT_SECONDS="4.9").test_client()  # a 5 s cooldown cannot fit
    response = ask(client, dialect, web.account(f"web-rl-{dialect}-{stream}", hint="rate_limit"), stream)
    assert response.status_code == 429 and 1 <= int(response.headers["Retry-After"]) <= 5
    assert "rate-limited" in error_of(dialect, response)["message"]


def test_a_short_cooldown_within_the_budget_is_waited_out_without_a_byte(make_app, web):
    client = make_app(**EAGER).test_client()   # the default 20 s budget holds the web chat's first 5 s cooldown
    token = web.account("web-rl-once", hint="rate_limit")

    def answer_after_the_notice() -> None:
        while len(web.completions) < 1:
            threading.Event().wait(0.01)
        web.account(token, text=["waited"])  # the next try is answered
    helper = threading.Thread(target=answer_after_the_notice)
    helper.start()
    response = ask(client, "chat", token, True)
    helper.join(5)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and body.startswith("data: ")  # no keep-alive before the answer opened
    assert "waited" in body and len(web.completions) == 2


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_a_queue_wait_past_the_budget_is_a_429_not_a_200(make_app, web, stream):
    client = make_app(**EAGER, FREESEEK_PRECOMMIT_SECONDS="1", FREESEEK_FIRST_CONTENT_TIMEOUT="60").test_client()
    token = web.account("web-held", text=["tick "] * 3000, pace=0.02)
    path, body = ROUTES["chat"]
    # A streamed answer that started and is not read on: it holds the account until it is closed.
    holder = client.post(path, json=body(True), headers={"Authorization": f"Bearer {token}"})
    try:
        assert holder.status_code == 200
        response = ask(client, "chat", token, stream)
    finally:
        holder.close()
    message = response.json["error"]["message"]
    assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0
    assert "busy" in message and "FREESEEK_PRECOMMIT_SECONDS" in message


def test_a_link_fetch_that_takes_longer_than_a_keepalive_is_still_a_400(make_app, web, monkeypatch):
    monkeypatch.setattr(links, "is_public", lambda address: address == "127.0.0.1")
    release = threading.Event()

    class Stalled(ImageHost):
        def _wsgi(self, environ, start_response):
            release.wait(10)
            return super()._wsgi(environ, start_response)
    client = make_app(**EAGER, FREESEEK_WEB_FETCH_TIMEOUT="1").test_client()
    with Stalled() as host:
        response = ask_with(client, with_parts(image_part(host.root + "/slow.png")))
        release.set()
    assert response.status_code == 400 and "fetch" in response.json["error"]["message"].lower()


def ask_with(client, messages):
    response = client.post("/v1/chat/completions", json={"model": "deepseek-chat", "messages": messages},
                           headers={"Authorization": "Bearer webtok"})
    response.get_data()
    return response


def test_a_long_whole_answer_whose_content_flows_still_gets_its_keepalives(make_app, fake):
    client = make_app(FREESEEK_FIRST_HEARTBEAT_SECONDS="0.3", FREESEEK_HEARTBEAT_SECONDS="0.3").test_client()
    key = fake.script("sk-flowing", text=["word "] * 40, pace=0.05)   # content all along, for about 2 s
    response = ask(client, "chat", key, False)
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and text.startswith("\n")   # committed by a keep-alive, not cut at 30 s
    assert json.loads(text)["choices"][0]["message"]["content"] == "word " * 40

"""The status rule under gunicorn + gevent, driven by the openai and anthropic SDKs: nothing is written before
an upstream accepted the request, so a rate-limited token is a real 429 the SDKs raise (and retry on)."""

from __future__ import annotations

import threading

import anthropic
import openai
import pytest
import requests

from tests.e2e.conftest import closed_later, openai_client

HELLO = [{"role": "user", "content": "hello"}]


@pytest.fixture(scope="module")
def patient(start_gateway):
    """A gateway whose queue would wait a minute: only the pre-commit budget keeps waits short (4.9 s here,
    so the web chat's first 5 s cooldown cannot fit in it)."""
    return start_gateway(FREESEEK_QUEUE_TIMEOUT="60", FREESEEK_PRECOMMIT_SECONDS="4.9")


def limited_token(fake, web, kind: str, name: str) -> str:
    """A token whose only upstream says it is rate-limited: the API's 429 with Retry-After: 30, or the web
    chat's rate-limit notice instead of an answer."""
    if kind == "api":
        return fake.script(f"sk-limited-{name}", status=429, headers={"Retry-After": "30"},
                           error_body={"error": {"message": "Rate limit reached", "type": "rate_limit_error"}})
    return web.account(f"web-limited-{name}", hint="rate_limit")


def ask_openai(gateway, key: str, dialect: str, stream: bool):
    client = openai_client(gateway, key)
    if dialect == "responses":
        reply = client.responses.create(model="deepseek-chat", input="hello", stream=stream)
    else:
        reply = client.chat.completions.create(model="deepseek-chat", messages=HELLO, stream=stream)
    return list(reply) if stream else reply


def ask_anthropic(gateway, key: str, stream: bool):
    client = closed_later(anthropic.Anthropic(base_url=gateway.url, api_key=key, max_retries=0, timeout=60))
    reply = client.messages.create(model="claude-sonnet-4-6", max_tokens=100, messages=HELLO, stream=stream)
    return list(reply) if stream else reply


@pytest.mark.parametrize("kind", ["api", "web"])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("dialect", ["chat", "responses"])
def test_the_openai_sdk_raises_rate_limit_error_for_a_rate_limited_token(patient, fake, web, kind, stream, dialect):
    key = limited_token(fake, web, kind, f"oa-{dialect}-{stream}")
    with pytest.raises(openai.RateLimitError) as caught:
        ask_openai(patient, key, dialect, stream)
    wait = int(caught.value.response.headers["retry-after"])
    # The API said 30 s; the web chat's notice gives no time and the token cools down 5 s.
    assert wait == 30 if kind == "api" else 1 <= wait <= 5
    again = requests.post(patient.url + "/v1/chat/completions", json={"model": "deepseek-chat", "messages": HELLO},
                          headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert again.status_code == 429 and 0 < int(again.headers["Retry-After"]) <= 30  # the rest that is left
    assert "rests" in again.json()["error"]["message"]


@pytest.mark.parametrize("kind", ["api", "web"])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_the_anthropic_sdk_raises_rate_limit_error_for_a_rate_limited_token(patient, fake, web, kind, stream):
    key = limited_token(fake, web, kind, f"an-{stream}")
    with pytest.raises(anthropic.RateLimitError) as caught:
        ask_anthropic(patient, key, stream)
    assert caught.value.body["type"] == "error" and caught.value.body["error"]["type"] == "rate_limit_error"
    wait = int(caught.value.response.headers["retry-after"])
    assert wait == 30 if kind == "api" else 1 <= wait <= 5


def test_a_token_resting_longer_than_the_budget_is_refused_at_once(patient, fake):
    key = limited_token(fake, None, "api", "twice")
    with pytest.raises(openai.RateLimitError):
        ask_openai(patient, key, "chat", False)
    asked = fake.keys_used().count(key)
    for stream in (False, True):  # the wait could not end within the budget: not started, not asked again
        with pytest.raises(openai.RateLimitError) as caught:
            ask_openai(patient, key, "chat", stream)
        assert 0 < int(caught.value.response.headers["retry-after"]) <= 30  # what is left of the rest
    assert fake.keys_used().count(key) == asked


def test_concurrent_requests_on_one_web_account_are_all_answered_within_the_budget(start_gateway, web):
    gateway = start_gateway(FREESEEK_QUEUE_TIMEOUT="60")  # the default 20 s budget
    token = web.account("web-shared-account", text=["one ", "answer ", "at ", "a ", "time"], pace=0.05)
    replies: dict[int, str] = {}

    def ask(i: int) -> None:
        client = openai_client(gateway, token)
        if i % 2:
            chunks = client.chat.completions.create(model="deepseek-chat", messages=HELLO, stream=True)
            replies[i] = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        else:
            reply = client.chat.completions.create(model="deepseek-chat", messages=HELLO)
            replies[i] = reply.choices[0].message.content
    threads = [threading.Thread(target=ask, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert replies == {i: "one answer at a time" for i in range(6)}
    assert web.violations == []  # one answer at a time on the account, as the web chat demands


def test_a_spent_budget_gives_the_real_errors(start_gateway, web):
    gateway = start_gateway(FREESEEK_QUEUE_TIMEOUT="60", FREESEEK_PRECOMMIT_SECONDS="1",
                            FREESEEK_FIRST_CONTENT_TIMEOUT="60")
    release = threading.Event()

    def held_answer(prompt: str) -> list[str]:
        release.wait(30)  # the completion call gets no headers until the test is done
        return ["late"]
    try:
        # An answer that never opens: a 504 naming the setting, not a 200 with an error inside.
        with pytest.raises(openai.APIStatusError) as never:
            ask_openai(gateway, web.account("web-held-account", text=held_answer), "chat", True)
        assert never.value.status_code == 504 and "FREESEEK_PRECOMMIT_SECONDS" in never.value.message
    finally:
        release.set()
    # An account busy with an answer that opened (still streaming): the queue for it outlasts the budget.
    token = web.account("web-busy-account", text=["tick "] * 600, pace=0.05)
    with requests.post(gateway.url + "/v1/chat/completions", stream=True, timeout=60,
                       json={"model": "deepseek-chat", "messages": HELLO, "stream": True},
                       headers={"Authorization": f"Bearer {token}"}) as holder:
        chunks = holder.iter_content(chunk_size=None)  # kept: a dropped reader closes the connection
        assert holder.status_code == 200 and next(chunks).startswith(b"data:")
        with pytest.raises(openai.RateLimitError) as busy:
            ask_openai(gateway, token, "chat", False)
    assert "busy" in busy.value.message and int(busy.value.response.headers["retry-after"]) > 0

"""The gateway under gunicorn + gevent, driven by the official openai SDK, against a fake upstream."""

from __future__ import annotations

import re
import socket
import time

import openai
import pytest
import requests

from tests.helpers import deepseek_tokens

MESSAGES = [{"role": "user", "content": "hello gateway"}]


def sdk(gateway, key="sk-plain"):
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0, timeout=30)


def test_non_stream(gateway):
    reply = sdk(gateway).chat.completions.create(model="deepseek-chat", messages=MESSAGES)
    assert reply.choices[0].message.content == "echo: hello gateway"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage.prompt_tokens == len("hello gateway")


def test_stream_with_include_usage(gateway, fake):
    fake.script("sk-nousage", usage_style="none")
    chunks = list(sdk(gateway, "sk-nousage").chat.completions.create(
        model="deepseek-chat", messages=MESSAGES, stream=True, stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "echo: hello gateway"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == deepseek_tokens("echo: hello gateway")
    assert len({c.id for c in chunks}) == 1


def test_stream_without_include_usage_has_no_usage(gateway):
    chunks = list(sdk(gateway).chat.completions.create(model="deepseek-chat", messages=MESSAGES, stream=True))
    assert all(c.usage is None for c in chunks) and chunks[-1].choices[0].finish_reason == "stop"


@pytest.mark.parametrize("style", ["reasoning_content", "reasoning", "think"])
def test_reasoning(gateway, fake, style):
    key = fake.script(f"sk-reason-{style}", reasoning=["Because", " so."], reasoning_style=style, text=["Done"])
    chunks = list(sdk(gateway, key).chat.completions.create(model="deepseek-reasoner", messages=MESSAGES,
                                                            stream=True))
    reasoning = "".join((c.choices[0].delta.model_extra or {}).get("reasoning_content") or "" for c in chunks)
    assert reasoning == "Because so."
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Done"
    whole = sdk(gateway, key).chat.completions.create(model="deepseek-reasoner", messages=MESSAGES)
    assert whole.choices[0].message.model_extra["reasoning_content"] == "Because so."


def test_failover_across_mixed_tokens(gateway, fake):
    fake.script("sk-e2e-dead", status=401)
    fake.script("hf_e2e_busy", status=503)
    key = "sk-e2e-dead, hf_e2e_busy, siliconflow:sk-e2e-ok"
    # The pool picks randomly among equally busy tokens: ask until the dead key has been tried once.
    for _ in range(30):
        reply = sdk(gateway, key).chat.completions.create(model="deepseek-chat", messages=MESSAGES)
        assert reply.choices[0].message.content == "echo: hello gateway"
        if "sk-e2e-dead" in fake.keys_used():
            break
    for _ in range(3):  # remembered as dead: never asked again
        sdk(gateway, key).chat.completions.create(model="deepseek-chat", messages=MESSAGES)
    assert fake.keys_used().count("sk-e2e-dead") == 1


@pytest.mark.parametrize("script, exception, status", [
    ({"status": 401}, openai.AuthenticationError, 401),
    ({"status": 402, "error_body": "insufficient balance"}, openai.APIStatusError, 402),
    ({"status": 403}, openai.PermissionDeniedError, 403),
    ({"status": 429, "headers": {"Retry-After": "9"}}, openai.RateLimitError, 429),
    ({"status": 500}, openai.InternalServerError, 502),
    ({"status": 503}, openai.InternalServerError, 503),
    ({"status": 400, "error_body": {"error": {"message": "bad temperature"}}}, openai.BadRequestError, 400),
    ({"status": 404}, openai.NotFoundError, 404),
    ({"status": 422}, openai.UnprocessableEntityError, 422),
])
def test_every_error_class(gateway, fake, script, exception, status):
    key = fake.script(f"sk-err-{status}-{len(fake.scripts)}", **script)
    with pytest.raises(exception) as caught:
        sdk(gateway, key).chat.completions.create(model="deepseek-chat", messages=MESSAGES)
    assert caught.value.status_code == status
    if status == 429:
        assert caught.value.response.headers["retry-after"] == "9"


def test_no_credentials_and_bad_input(gateway):
    bare = requests.post(gateway.url + "/v1/chat/completions", json={"model": "deepseek-chat", "messages": MESSAGES})
    assert bare.status_code == 401 and bare.json()["error"]["type"] == "authentication_error"
    with pytest.raises(openai.BadRequestError, match="messages"):
        sdk(gateway).chat.completions.create(model="deepseek-chat", messages=[])
    response = requests.post(gateway.url + "/v1/chat/completions", data=b"{oops",
                             headers={"Content-Type": "application/json", "Authorization": "Bearer sk-x"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_json"


def test_error_after_first_byte_raises_in_the_sdk(gateway, fake):
    key = fake.script("sk-e2e-cut", cut_after=2)
    stream = sdk(gateway, key).chat.completions.create(model="deepseek-chat", messages=MESSAGES, stream=True)
    with pytest.raises(openai.APIError, match="before the answer was complete|broke"):
        for _ in stream:
            pass


def test_models_list(gateway):
    ids = {m.id for m in sdk(gateway).models.list()}
    assert {"deepseek-chat", "deepseek-reasoner"} <= ids


def test_keepalives_on_the_wire_while_upstream_only_sends_comments(gateway, fake):
    key = fake.script("sk-e2e-slow", keepalives=8, pace=0.2)
    with requests.post(gateway.url + "/v1/chat/completions", stream=True, timeout=30,
                       json={"model": "deepseek-chat", "messages": MESSAGES, "stream": True},
                       headers={"Authorization": f"Bearer {key}"}) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        assert response.headers["X-Accel-Buffering"] == "no" and response.headers["Cache-Control"] == "no-cache"
        body = response.content.decode()
    assert body.startswith(": keep-alive\n\n")
    assert body.count(": keep-alive") >= 2 and body.endswith("data: [DONE]\n\n")


def test_upstream_sees_the_disconnect_mid_stream(gateway, fake):
    fake.disconnected.clear()
    key = fake.script("sk-e2e-long", text=["tick "] * 1000, pace=0.05)
    response = requests.post(gateway.url + "/v1/chat/completions", stream=True, timeout=30,
                             json={"model": "deepseek-chat", "messages": MESSAGES, "stream": True},
                             headers={"Authorization": f"Bearer {key}"})
    next(response.iter_content(chunk_size=None))
    response.close()
    assert fake.disconnected.wait(timeout=10), "upstream still open 10 s after the client left"


def test_upstream_sees_the_disconnect_while_silent(start_gateway, fake):
    quiet = start_gateway(FREESEEK_FIRST_HEARTBEAT_SECONDS="60", FREESEEK_HEARTBEAT_SECONDS="60",
                          FREESEEK_FIRST_CONTENT_TIMEOUT="60", FREESEEK_IDLE_TIMEOUT="60")
    fake.disconnected.clear()
    key = fake.script("sk-e2e-stall", stall=True)
    sock = socket.create_connection(("127.0.0.1", quiet.port))
    body = b'{"model": "deepseek-chat", "stream": true, "messages": [{"role": "user", "content": "x"}]}'
    sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Authorization: Bearer " + key.encode() + b"\r\nContent-Length: " + str(len(body)).encode()
                 + b"\r\n\r\n" + body)
    while not any(r["key"] == key for r in fake.requests):
        time.sleep(0.01)  # until the upstream request exists; nothing to await across processes
    sock.close()
    assert fake.disconnected.wait(timeout=10), "upstream still open 10 s after a silent client left"


def test_token_check_and_health(gateway, fake):
    fake.dead_keys.add("sk-e2e-revoked")
    refused = requests.post(gateway.url + "/token/check", json={"token": "sk-e2e-revoked"}).json()
    assert (refused["live"], refused["provider"]) == (False, "deepseek")
    assert "invalid or revoked" in refused["detail"] and "siliconflow:sk-" in refused["detail"]
    assert "sk-e2e-revoked" not in refused["detail"]
    assert requests.post(gateway.url + "/token/check", json={"token": "sk-fine"}).json()["live"] is True
    assert requests.get(gateway.url + "/healthz").json()["status"] == "ok"


def test_logs_carry_no_secret_and_no_prompt(gateway, fake):
    key = fake.script("sk-e2e-logsecret-9876", status=401, error_body={"error": {"message": "key ****9876"}})
    with pytest.raises(openai.AuthenticationError):
        sdk(gateway, key).chat.completions.create(model="deepseek-chat",
                                                  messages=[{"role": "user", "content": "private words"}])
    sdk(gateway).chat.completions.create(model="deepseek-chat", messages=[{"role": "user", "content": "private words"}])
    log = gateway.log.read_text()
    assert "request id=chatcmpl-" in log
    log = re.sub(r"id=\S+", "id=", log)  # random request ids hold "9876" now and then
    assert "logsecret" not in log and "9876" not in log and "private words" not in log

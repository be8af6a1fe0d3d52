"""Routes where a newcomer puts them: a base URL with or without /v1 works for every dialect; limits are named."""

from __future__ import annotations

import pytest

AUTH = {"Authorization": "Bearer sk-a"}
CHAT = {"model": "deepseek-chat", "messages": [{"role": "user", "content": "hi"}]}
MESSAGES = {"model": "claude-sonnet-4-6", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
RESPONSES = {"model": "deepseek-chat", "input": "hi"}


@pytest.mark.parametrize("prefix", ["/v1", "", "/v1/v1", "/v1/v1/v1"])
def test_chat_messages_responses_and_models_answer_under_any_base_url(client, prefix):
    chat = client.post(prefix + "/chat/completions", json=CHAT, headers=AUTH)
    assert chat.status_code == 200 and chat.json["choices"][0]["message"]["content"] == "echo: hi"
    message = client.post(prefix + "/messages", json=MESSAGES, headers=AUTH)
    assert message.status_code == 200 and message.json["content"][0]["text"] == "echo: hi"
    response = client.post(prefix + "/responses", json=RESPONSES, headers=AUTH)
    assert response.status_code == 200 and response.json["output"][-1]["content"][0]["text"] == "echo: hi"
    count = client.post(prefix + "/messages/count_tokens", json={**MESSAGES, "max_tokens": None}, headers=AUTH)
    assert count.status_code == 200 and count.json["input_tokens"] > 0
    assert "deepseek-chat" in {m["id"] for m in client.get(prefix + "/models").json["data"]}


def test_errors_under_a_doubled_v1_keep_their_dialects_shape(client):
    response = client.post("/v1/v1/messages", json={"model": "x", "messages": []}, headers=AUTH)
    assert response.status_code == 400 and response.json["type"] == "error"
    response = client.post("/messages", json={"model": "x", "messages": []}, headers=AUTH)
    assert response.status_code == 400 and response.json["type"] == "error"
    response = client.post("/v1/v1/chat/completions", json={"messages": []}, headers=AUTH)
    assert response.status_code == 400 and response.json["error"]["type"] == "invalid_request_error"


def test_an_unknown_route_says_a_base_url_may_end_with_or_without_v1(client):
    for path in ("/v1/v1/whatever", "/v2/chat/completions"):
        response = client.post(path, json=CHAT, headers=AUTH)
        assert response.status_code == 404
        assert "with or without /v1" in response.json["error"]["message"]


def test_claude_codes_probe_of_a_base_url_ending_in_v1_is_answered(client):
    assert client.head("/").status_code == 200 and client.head("/v1").status_code == 200


def test_a_body_over_the_limit_is_told_the_limit(make_app):
    client = make_app(FREESEEK_MAX_BODY_BYTES="1000").test_client()
    body = {**CHAT, "messages": [{"role": "user", "content": "x" * 2000}]}
    response = client.post("/v1/chat/completions", json=body, headers=AUTH)
    assert response.status_code == 413 and "1,000 bytes" in response.json["error"]["message"]
    response = client.post("/v1/messages", json={**MESSAGES, "messages": body["messages"]}, headers=AUTH)
    assert response.status_code == 413 and response.json["type"] == "error"
    assert "1,000 bytes" in response.json["error"]["message"]
    default = make_app().test_client().post("/v1/chat/completions", data=b"x" * (10 * 1048576 + 1),
                                            content_type="application/json", headers=AUTH)
    assert default.status_code == 413 and "10,485,760 bytes (10 MiB" in default.json["error"]["message"]


def test_a_slow_non_stream_answer_carries_x_accel_buffering(client, fake):
    # Slower than the first keep-alive (1 s in the tests): the answer is committed and fed newlines.
    key = fake.script("sk-slow", keepalives=6, pace=0.3)
    response = client.post("/v1/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200 and response.get_data().startswith(b"\n")
    assert response.headers.get("X-Accel-Buffering") == "no"


@pytest.mark.parametrize("method, path, body", [
    ("post", "/v1/chat/completions", CHAT), ("post", "/v1/chat/completions", {**CHAT, "stream": True}),
    ("post", "/v1/chat/completions", {}), ("get", "/v1/models", None), ("get", "/nowhere", None),
    ("get", "/", None), ("get", "/ping", None), ("post", "/token/check", {"token": "sk-a"}),
])
def test_every_response_carries_x_accel_buffering(client, method, path, body):
    response = getattr(client, method)(path, json=body, headers=AUTH)
    response.close()
    assert response.headers.get("X-Accel-Buffering") == "no", (path, response.status_code)

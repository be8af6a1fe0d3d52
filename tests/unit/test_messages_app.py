"""The Anthropic Messages dialect through the app, in process, against the fakes on loopback."""

from __future__ import annotations

import json

from tests.unit.test_responses_app import named_events

HELLO = [{"role": "user", "content": "hello claude"}]


def ask(client, key, **body):
    return client.post("/v1/messages", headers={"x-api-key": key},
                       json={"model": "claude-haiku-4-5", "max_tokens": 100, "messages": HELLO, **body})


def test_a_slow_answer_that_fails_is_anthropics_error_object(client, fake):
    response = ask(client, fake.script("sk-anth-late", keepalives=6, pace=0.3, mid_stream_error=True))
    assert response.status_code == 200
    body = json.loads(response.get_data())
    assert body["type"] == "error" and body["error"]["type"] and body["error"]["message"]


def test_a_slow_chat_answer_that_fails_is_openais_error_object(client, fake):
    key = fake.script("sk-chat-late", keepalives=6, pace=0.3, mid_stream_error=True)
    response = client.post("/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                           json={"model": "deepseek-chat", "messages": HELLO})
    assert response.status_code == 200 and json.loads(response.get_data())["error"]["message"]

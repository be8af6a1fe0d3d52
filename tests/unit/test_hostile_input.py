"""Hostile or broken input is the client's error: a 400 that says what is wrong, and no token pays for it."""

from __future__ import annotations

import json

import pytest

from services.providers.failures import scrub
from services.credentials import Token

HI = [{"role": "user", "content": "hi"}]


def post(client, data: str | bytes, token: str = "sk-good", path: str = "/v1/chat/completions"):
    return client.post(path, data=data, content_type="application/json", headers={"Authorization": f"Bearer {token}"})


def assert_openai_error(response, status: int, *words: str):
    assert response.status_code == status, response.get_data(as_text=True)
    error = response.json["error"]
    assert set(error) == {"message", "type", "param", "code"}
    for word in words:
        assert word in error["message"]


def test_json_nested_a_thousand_deep_is_a_400(client):
    deep = '{"model": "deepseek-chat", "messages": [{"role": "user", "content": "hi"}], "x": ' + "[" * 1000 + "]" * 1000 + "}"
    assert_openai_error(post(client, deep), 400, "nested too deeply")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_a_400_and_cool_no_token(client, fake, constant):
    body = '{"model": "deepseek-chat", "messages": [{"role": "user", "content": "hi"}], "temperature": %s}' % constant
    assert_openai_error(post(client, body, token="sk-nan"), 400, constant)
    assert fake.keys_used() == []
    # The same token still works at once: nothing was cooled down.
    ok = post(client, json.dumps({"model": "deepseek-chat", "messages": HI}), token="sk-nan")
    assert ok.status_code == 200


@pytest.mark.parametrize("token", [
    '{"value": "\\u4e2d\\u6587-token", "__version": "0"}',   # non-latin-1, in the browser's JSON form
    '{"value": "abc\\u0000def", "__version": "0"}',          # NUL inside the JSON form
    '{"value": "abc\\r\\nX-Injected: 1", "__version": "0"}',  # CR/LF inside the JSON form
    '{"value": "abc\\u0007def", "__version": "0"}',          # another control character
])
def test_unsendable_web_tokens_are_a_400_and_never_reach_the_upstream(client, web, token):
    body = json.dumps({"model": "deepseek-chat", "messages": HI})
    response = client.post("/v1/chat/completions", data=body, content_type="application/json",
                           headers={"Authorization": "Bearer " + token})
    assert_openai_error(response, 400, "U+")
    assert "abc" not in response.json["error"]["message"] and web.requests == []


@pytest.mark.parametrize("token", ["\u4e2d\u6587-token", "abc\r\ndef", "sk-abc\x00def", '{"value": "a\\u0000b"}'])
def test_token_check_refuses_unsendable_tokens_with_a_400(client, fake, web, token):
    response = client.post("/token/check", json={"token": token})
    assert_openai_error(response, 400, "U+")
    assert fake.requests == [] and web.requests == []


def test_a_key_the_upstream_echoes_in_pieces_leaves_no_fragment():
    token = Token("deepseek", "sk-Q7xZ9pLm2VbN4kR8wT1yHc")
    echoes = ["Incorrect API key provided: sk-Q7x...wT1yHc", "key ending in 1yHc is invalid", "sk-****N4kR8wT1yHc",
              "Your key sk-Q7xZ9pLm2VbN4kR8 (truncated)", "bad key 'Z9pLm2Vb'"]
    for text in echoes:
        cleaned = scrub(text, token)
        assert not any(token.secret[i:i + 4] in cleaned for i in range(len(token.secret) - 3)), cleaned
    assert scrub("The model is overloaded, retry later", token) == "The model is overloaded, retry later"


@pytest.mark.parametrize("status, ours", [(400, 400), (500, 502), (503, 503)])
def test_upstream_errors_forward_no_part_of_the_key(client, fake, status, ours):
    key = "sk-Q7xZ9pLm2VbN4kR8wT1yHc"
    fake.script(key, status=status, error_body={"error": {"message": f"Bad key sk-Q7x...{key[-8:]} for this model"}})
    response = post(client, json.dumps({"model": "deepseek-chat", "messages": HI}), token=key)
    text = response.get_data(as_text=True)
    assert response.status_code == ours
    assert not any(key[i:i + 4] in text for i in range(len(key) - 3)), text

"""A key reaches only the service it was meant for, and a mistyped one gets an error that says what to fix."""

from __future__ import annotations

import pytest

from services.credentials import parse_tokens
from services.errors import BadRequest
from services.providers.registry import Registry

GOOD = {"model": "deepseek-chat", "messages": [{"role": "user", "content": "hi"}]}


def chat(client, authorization: str):
    return client.post("/v1/chat/completions", json=GOOD, headers={"Authorization": authorization})


def as_wsgi_gives_it(text: str) -> str:
    """A header as a WSGI server hands it to the app: the client's UTF-8 bytes decoded as latin-1."""
    return text.encode("utf-8").decode("latin-1")


@pytest.mark.parametrize("token", ["openrouter:sk-or-v1-abcdef", "OpenAI:sk-proj-abc", "sk-good,anthropic:sk-ant-x"])
def test_an_unknown_provider_prefix_is_a_400_naming_the_known_ones_and_nothing_leaves(client, fake, web, token):
    response = chat(client, "Bearer " + token)
    assert response.status_code == 400, response.get_data(as_text=True)
    error = response.json["error"]
    assert error["code"] == "unknown_provider"
    assert "Unknown provider prefix" in error["message"]
    assert "deepseek-web" in error["message"] and "siliconflow" in error["message"]
    assert "abc" not in error["message"] and "sk-or" not in error["message"]
    assert fake.requests == [] and web.requests == []


def test_token_check_refuses_an_unknown_prefix_without_asking_anyone(client, fake, web):
    response = client.post("/token/check", json={"token": "openrouter:sk-or-v1-abcdef"})
    assert response.status_code == 400 and response.json["error"]["code"] == "unknown_provider"
    assert fake.requests == [] and web.requests == []


def test_a_key_shape_before_a_colon_stays_with_its_provider_and_out_of_messages():
    registry = Registry.load()
    assert parse_tokens("sk-abc:def", registry)[0].provider == "deepseek"
    assert parse_tokens('{"value": "abc", "__version": "0"}', registry)[0].provider == "deepseek-web"
    with pytest.raises(BadRequest, match="'openrouter:'"):
        parse_tokens("openrouter:x", registry)


def test_a_rejected_unprefixed_sk_key_says_other_providers_keys_need_their_prefix(client, fake):
    fake.script("sk-from-siliconflow", status=401)
    response = chat(client, "Bearer sk-from-siliconflow")
    assert response.status_code == 401
    message = response.json["error"]["message"]
    assert "siliconflow:sk-..." in message and "sent to deepseek" in message
    assert "from-siliconflow" not in message


def test_a_rejected_prefixed_key_of_another_shape_gets_no_such_hint(client, fake):
    fake.script("hf-like-key", status=401)
    response = chat(client, "Bearer gitee:hf-like-key")
    assert response.status_code == 401 and "needs that provider's name" not in response.json["error"]["message"]


@pytest.mark.parametrize("authorization, sent", [
    ("Bearer Bearer sk-twice", "sk-twice"),
    ("bearer BEARER  sk-twice", "sk-twice"),
    ('Bearer "sk-quoted"', "sk-quoted"),
    ("Bearer 'sk-single'", "sk-single"),
    ('Bearer siliconflow:"sk-inside"', "sk-inside"),
    ('Bearer "sk-one", Bearer "sk-two"', "sk-one"),
])
def test_a_repeated_bearer_and_quotes_are_stripped_before_the_key_is_sent(client, fake, authorization, sent):
    response = chat(client, authorization)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert fake.keys_used() == [sent]


def test_a_quoted_web_token_reaches_the_web_chat_unquoted(client, web):
    response = chat(client, 'Bearer "web-token-1"')
    assert response.status_code == 200, response.get_data(as_text=True)
    assert {r["token"] for r in web.requests} == {"web-token-1"}


def test_a_space_inside_a_token_is_a_400_not_an_expired_key(client, fake, web):
    response = chat(client, "Bearer abc def")
    assert response.status_code == 400 and "a space" in response.json["error"]["message"]
    assert fake.requests == [] and web.requests == []


@pytest.mark.parametrize("char", ["\u00f6", "\u00e9", "\u4e2d", "\U0001f600"])
def test_a_non_ascii_character_is_named_as_the_client_sent_it(client, web, char):
    response = chat(client, as_wsgi_gives_it(f"Bearer abc{char}def"))
    assert response.status_code == 400
    message = response.json["error"]["message"]
    assert f"'{char}' (U+{ord(char):04X})" in message and "abc" not in message
    assert web.requests == []


def test_a_latin1_byte_that_is_not_utf8_is_named_as_it_arrived(client):
    response = chat(client, "Bearer abc\u00f6def")   # the client sent the single byte 0xF6
    assert response.status_code == 400 and "(U+00F6)" in response.json["error"]["message"]


def test_the_x_api_key_header_is_read_the_same_way(client):
    response = client.post("/v1/messages", json={"model": "deepseek-chat", "max_tokens": 10, "messages": [
        {"role": "user", "content": "hi"}]}, headers={"x-api-key": as_wsgi_gives_it("abc\u00f6")})
    assert response.status_code == 400 and "'\u00f6' (U+00F6)" in response.json["error"]["message"]

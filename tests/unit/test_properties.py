"""Property-based tests: whatever a client sends, no 5xx of ours, and every error in OpenAI's shape."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.openapi import ROLES

# Bounded so the whole suite stays within a few minutes; no example database is written.
BOUNDED = settings(max_examples=120, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20)

content = st.one_of(st.none(), st.text(max_size=30), json_values,
                    st.lists(st.fixed_dictionaries({"type": st.sampled_from(["text", "image_url", "x"])},
                                                   optional={"text": json_values}), max_size=3))
message = st.fixed_dictionaries({"role": st.one_of(st.sampled_from(ROLES), json_values)},
                                optional={"content": content, "name": json_values})
chat_body = st.fixed_dictionaries(
    {"messages": st.one_of(st.lists(message, min_size=0, max_size=3), json_values)},
    optional={"model": st.one_of(st.sampled_from(["deepseek-chat", "deepseek-r1", "deepseek-search", "gpt-4o",
                                                  "deepseek-think-fold", ""]), json_values),
              "stream": json_values, "stream_options": json_values, "temperature": json_values,
              "max_tokens": json_values, "tools": json_values, "conversation_id": json_values,
              "unknown_field": json_values})
# Tokens as a client might paste them: good keys, web tokens, JSON forms, junk, commas, prefixes.
printable_latin1 = st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f")
authorization = st.one_of(
    st.none(),
    st.sampled_from(["Bearer sk-ok", "Bearer webtok", "Bearer sk-a, ,sk-b", "Bearer siliconflow:sk-x",
                     'Bearer {"value": "webtok", "__version": "0"}', "Bearer ", "Basic abc", "Bearer nope:"]),
    st.text(printable_latin1, max_size=40).map(lambda t: "Bearer " + t))


def assert_clean(response) -> None:
    """No 5xx (the fake upstreams are healthy, so any is ours); an error is OpenAI's object."""
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code >= 400:
        error = response.json["error"]
        assert set(error) == {"message", "type", "param", "code"} and isinstance(error["message"], str)
        assert isinstance(error["type"], str)


@BOUNDED
@given(body=chat_body, auth=authorization)
def test_any_chat_request_gets_a_clean_answer_or_a_clean_error(client, body, auth):
    headers = {"Authorization": auth} if auth is not None else {}
    assert_clean(client.post("/v1/chat/completions", json=body, headers=headers))


@BOUNDED
@given(raw=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode),
                     json_values.map(lambda v: json.dumps(v).encode()),
                     st.sampled_from([1, 10, 500, 999, 1000, 3000]).map(lambda n: b'{"messages": ' + b"[" * n + b"]" * n + b"}"),
                     st.sampled_from([b"NaN", b"Infinity", b"-Infinity"]).map(
                         lambda c: b'{"messages": [{"role": "user", "content": "hi"}], "temperature": ' + c + b"}")),
       content_type=st.sampled_from(["application/json", "text/plain", "application/json; charset=utf-8", ""]))
def test_any_bytes_as_a_body_get_a_clean_error(client, raw, content_type):
    assert_clean(client.post("/v1/chat/completions", data=raw, content_type=content_type or None,
                             headers={"Authorization": "Bearer sk-ok"}))


@settings(BOUNDED, max_examples=60)
@given(body=st.one_of(json_values, st.fixed_dictionaries({"token": st.one_of(st.text(max_size=40), json_values)})))
def test_any_token_check_gets_a_clean_answer_or_a_clean_error(client, body):
    assert_clean(client.post("/token/check", json=body))


@pytest.mark.parametrize("path", ["/openapi.json", "/v1/models", "/healthz", "/nowhere"])
def test_get_routes_are_clean(client, path):
    assert_clean(client.get(path))

"""The OpenAI-compatible adapter against `responses` mocks: request shape, error classes, stream parsing."""

from __future__ import annotations

import json

import pytest
import requests
import responses

from services.chat_call import ChatCall
from services.credentials import Token
from services.errors import GatewayError
from services.events import Finish, Text, Usage
from services.providers.openai_compatible import OpenAICompatible
from services.providers.registry import Registry
from services.settings import Settings

URL = "http://upstream.test/v1/chat/completions"


@pytest.fixture
def adapter():
    registry = Registry.load(overrides={"qiniu": {"base_url": "http://upstream.test/v1"}})
    return OpenAICompatible(registry.get("qiniu"), requests.Session(), Settings())


def call(**body):
    return ChatCall.from_body({"model": "deepseek-r1", "messages": [{"role": "user", "content": "q"}], **body})


def sse(*chunks) -> str:
    return "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"


def delta(**d):
    return {"choices": [{"index": 0, "delta": d, "finish_reason": None}]}


@responses.activate
def test_request_maps_the_alias_forces_stream_and_keeps_other_fields(adapter):
    responses.post(URL, body=sse({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
                   content_type="text/event-stream")
    list(adapter.open(call(top_p=0.5, stream=False, user="u1"), Token("qiniu", "k")).events())
    sent = json.loads(responses.calls[0].request.body)
    assert sent["model"] == "deepseek-r1" and sent["top_p"] == 0.5 and sent["user"] == "u1"
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert responses.calls[0].request.headers["Authorization"] == "Bearer k"


@responses.activate
def test_think_tags_and_deepseek_usage_are_normalised(adapter):
    body = sse(delta(content="<think>"), delta(content="why"), delta(content="</think>"), delta(content="ok"),
               {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 4, "prompt_cache_hit_tokens": 1,
                          "completion_tokens_details": {"reasoning_tokens": 2}}})
    responses.post(URL, body=body, content_type="text/event-stream")
    events = list(adapter.open(call(), Token("qiniu", "k")).events())
    assert [e for e in events if isinstance(e, Text)] == [Text(reasoning="why"), Text(content="ok")]
    assert Usage(3, 4, reasoning_tokens=2, cached_tokens=1) in events
    assert events[-1] == Finish("stop")


@responses.activate
@pytest.mark.parametrize("status, body, headers, expected, state", [
    (401, {"error": {"message": "Your api key: ****k123 is invalid"}}, {}, 401, "dead"),
    (402, "Insufficient Balance", {}, 402, "dead"),
    (403, {"code": 30001, "message": "Sorry, your account balance is insufficient", "data": None}, {}, 402, "dead"),
    (429, {"error": {"message": "slow"}}, {"retry-after-ms": "1500"}, 429, "cooldown"),
    (500, "boom", {}, 502, "rest"),
    (529, "overloaded", {}, 503, "rest"),
    (408, "timeout", {}, 502, "rest"),
    (413, "too big", {}, 413, None),
])
def test_status_classes(adapter, status, body, headers, expected, state):
    responses.post(URL, json=body if isinstance(body, dict) else None, body=body if isinstance(body, str) else None,
                   status=status, headers=headers)
    with pytest.raises(GatewayError) as caught:
        adapter.open(call(), Token("qiniu", "sk-k123"))
    error = caught.value
    assert (error.status, error.token_state) == (expected, state)
    assert error.retryable is (state is not None)
    assert "k123" not in error.message
    if status == 429:
        assert error.retry_after == 1.5


@responses.activate
def test_connection_refused_is_a_retryable_502(adapter):
    responses.post(URL, body=requests.ConnectionError("refused"))
    with pytest.raises(GatewayError) as caught:
        adapter.open(call(), Token("qiniu", "k"))
    assert caught.value.status == 502 and caught.value.retryable


@responses.activate
def test_a_stream_without_finish_or_done_is_an_error(adapter):
    responses.post(URL, body="data: " + json.dumps(delta(content="partial")) + "\n\n",
                   content_type="text/event-stream")
    stream = adapter.open(call(), Token("qiniu", "k"))
    with pytest.raises(GatewayError, match="before the answer was complete"):
        list(stream.events())


@responses.activate
def test_key_check(adapter):
    responses.get("http://upstream.test/v1/models", json={"data": []})
    assert adapter.check(Token("qiniu", "k")) is True
    responses.replace(responses.GET, "http://upstream.test/v1/models", status=401)
    refused = adapter.check(Token("qiniu", "k"))
    assert refused["live"] is False and "invalid or revoked (HTTP 401)" in refused["detail"]

"""The Anthropic Messages dialect through the app, in process, against the fakes on loopback."""

from __future__ import annotations

import json

import pytest

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

# Two parallel calls whose pieces interleave, as some upstreams send them.
INTERLEAVED = [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": ""}},
               {"index": 1, "id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": ""}},
               {"index": 0, "function": {"arguments": '{"city": "Paris"}'}},
               {"index": 1, "function": {"arguments": '{"zone": "CET"}'}}]


def blocks_of(events: list[tuple[str, dict]]) -> list[dict]:
    """Rebuild the content blocks as a strict client does, failing on a delta to a block that is not open."""
    blocks, open_ = [], None
    for name, data in events:
        if name == "content_block_start":
            assert open_ is None and data["index"] == len(blocks)
            blocks.append({**data["content_block"], "json": ""})
            open_ = data["index"]
        elif name == "content_block_delta":
            assert data["index"] == open_, (data, open_)
            blocks[open_]["json"] += data["delta"].get("partial_json", "")
        elif name == "content_block_stop":
            assert data["index"] == open_
            open_ = None
    assert open_ is None
    return blocks


def test_interleaved_parallel_calls_stream_as_whole_blocks_in_order(client, fake):
    key = fake.script("sk-anth-interleaved", text=[], tool_calls=INTERLEAVED)
    events = named_events(ask(client, key, stream=True))
    calls = [(b["name"], json.loads(b["json"])) for b in blocks_of(events) if b["type"] == "tool_use"]
    assert calls == [("get_weather", {"city": "Paris"}), ("get_time", {"zone": "CET"})]
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"


def test_message_start_counts_the_prompt(client, fake):
    events = named_events(ask(client, fake.script("sk-anth-start"), stream=True))
    assert events[0][0] == "message_start" and events[0][1]["message"]["usage"]["input_tokens"] > 0


def test_a_tool_result_without_its_tool_use_is_a_400(client, fake):
    response = ask(client, "sk-anth-orphan", messages=[
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_nope", "content": "1"}]}])
    assert response.status_code == 400 and response.json["error"]["type"] == "invalid_request_error"
    assert "toolu_nope" in response.json["error"]["message"]

PNG = "iVBORw0KGgowMDAwMDAwMDAwMDAw"


def test_an_image_a_tool_returned_is_uploaded_with_the_next_user_turn(client, web):
    web.account("anth-web-shot")
    response = ask(client, "anth-web-shot", messages=[
        {"role": "user", "content": "Take a screenshot."},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_shot", "name": "screenshot", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_shot", "content": [
            {"type": "text", "text": "Here it is."},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}]}]}],
        tools=[{"name": "screenshot", "input_schema": {"type": "object"}}])
    assert response.status_code == 200, response.get_data(as_text=True)
    assert web.uploads and web.uploads[-1]["token"] == "anth-web-shot"
    assert web.violations == []


def test_unknown_routes_and_methods_under_messages_answer_in_anthropics_shape(client):
    for response, status in ((client.post("/v1/messages/batches", json={}), 404), (client.get("/v1/messages"), 405),
                             (client.post("/v1/messages", data="x", content_type="text/plain",
                                          headers={"x-api-key": "sk-a"}), 415)):
        assert response.status_code == status
        assert response.json["type"] == "error" and response.json["error"]["type"] in ("not_found_error",
                                                                                       "invalid_request_error")
    assert client.get("/v1/messages").headers["Allow"]
    assert "type" not in client.get("/v1/unknown").json   # OpenAI's shape elsewhere


def counted_texts(app) -> list[str]:
    """Record the texts the app's token counter is asked to count."""
    texts, counter = [], app.extensions["freeseek"].anthropic.counter
    real = counter.count
    counter.count = lambda text: texts.append(text) or real(text)
    return texts


def count(client, headers: dict, text: str = "hello claude"):
    return client.post("/v1/messages/count_tokens", headers=headers,
                       json={"model": "claude-haiku-4-5", "messages": [{"role": "user", "content": text}]})


BIG = "lorem ipsum dolor " * 400_000   # 7.2 MB: about 12 s of counting on a 2-core box


@pytest.mark.parametrize("env, headers", [
    ({}, {}),
    ({}, {"Authorization": "Basic dXNlcjpwYXNz"}),
    ({}, {"Authorization": "Bearer  ,  ,"}),
    ({}, {"x-api-key": "  "}),
    ({"FREESEEK_TOKENS": "webtok", "FREESEEK_API_KEYS": "the-key"}, {"x-api-key": "not-the-key"}),
    ({"FREESEEK_TOKENS": "webtok", "FREESEEK_API_KEYS": "the-key"}, {"Authorization": "Bearer webtok"}),
])
def test_count_tokens_without_a_usable_credential_is_a_401_and_counts_nothing(make_app, env, headers):
    app = make_app(**env)
    texts = counted_texts(app)
    response = count(app.test_client(), headers, BIG)
    assert response.status_code == 401
    assert response.json["type"] == "error" and response.json["error"]["type"] == "authentication_error"
    assert texts == []


def test_count_tokens_counts_for_a_caller_with_a_credential(make_app):
    app = make_app(FREESEEK_TOKENS="webtok", FREESEEK_API_KEYS="the-key")
    texts = counted_texts(app)
    response = count(app.test_client(), {"x-api-key": "the-key"})
    assert response.status_code == 200 and response.json["input_tokens"] > 0 and len(texts) == 1


def test_count_tokens_refuses_more_text_than_its_limit_with_a_413_naming_it(make_app):
    app = make_app()
    texts = counted_texts(app)
    response = count(app.test_client(), {"x-api-key": "any-token"}, BIG)
    assert response.status_code == 413 and texts == []
    error = response.json["error"]
    assert response.json["type"] == "error" and error["type"] == "request_too_large"
    assert "FREESEEK_COUNT_TOKENS_MAX_BYTES" in error["message"] and str(1 << 20) in error["message"]


def test_the_count_tokens_limit_is_a_setting(make_app):
    app = make_app(FREESEEK_COUNT_TOKENS_MAX_BYTES="2000")
    texts = counted_texts(app)
    client = app.test_client()
    assert count(client, {"x-api-key": "any-token"}, "x" * 1900).status_code == 200 and len(texts) == 1
    response = count(client, {"x-api-key": "any-token"}, "é" * 1100)   # 2,200 bytes of UTF-8
    assert response.status_code == 413 and "2000 bytes" in response.json["error"]["message"] and len(texts) == 1

"""The Anthropic Messages dialect under gunicorn + gevent, driven by the official anthropic SDK, against the fakes."""

from __future__ import annotations

import base64
import json

import anthropic
import pytest
import requests

from tests.e2e.conftest import closed_later
from tests.fakes import web_tools as wt

HELLO = [{"role": "user", "content": "hello claude"}]
TOOLS = [{"name": t["function"]["name"], "description": t["function"]["description"],
          "input_schema": t["function"]["parameters"]} for t in wt.TOOLS]
TASK = [{"role": "user", "content": "What is the weather in Paris, in Fahrenheit?"}]


def sdk(gateway, key, bearer=False):
    auth = {"auth_token": key, "api_key": None} if bearer else {"api_key": key}
    return closed_later(anthropic.Anthropic(base_url=gateway.url, max_retries=0, timeout=60, **auth))


def last_upstream(fake) -> dict:
    return fake.requests[-1]["json"]


@pytest.mark.parametrize("bearer", [False, True])
def test_non_stream_with_either_auth_header(gateway, fake, bearer):
    key = f"sk-anth-plain-{bearer}"
    message = sdk(gateway, key, bearer).messages.create(
        model="claude-sonnet-4-6", max_tokens=32000, messages=HELLO,
        system=[{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1"},
                {"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}])
    assert message.content[0].text == "echo: hello claude" and message.stop_reason == "end_turn"
    assert message.model == "claude-sonnet-4-6" and message.id.startswith("msg_")
    assert message.usage.output_tokens == 3 and message.usage.cache_read_input_tokens == 2
    upstream = last_upstream(fake)
    assert fake.requests[-1]["key"] == key
    # claude-* -> deepseek-chat, which the official API serves as its flash model with thinking off
    assert upstream["thinking"] == {"type": "disabled"} and upstream["max_tokens"] == 8192
    assert upstream["messages"] == [{"role": "system", "content": "Be brief."}, *HELLO]


def test_stream_with_thinking_selects_the_reasoner(gateway, fake):
    key = fake.script("sk-anth-think", reasoning=["Because", " so."], text=["Do", "ne"])
    with sdk(gateway, key).messages.stream(model="claude-opus-4-1", max_tokens=1024, messages=HELLO,
                                           thinking={"type": "enabled", "budget_tokens": 1024}) as stream:
        events = [event.type for event in stream]
        final = stream.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "text"]
    assert final.content[0].thinking == "Because so." and final.content[0].signature
    assert final.content[1].text == "Done" and final.stop_reason == "end_turn"
    assert events[0] == "message_start" and events[-1] == "message_stop"
    assert final.usage.output_tokens == 4 and final.usage.input_tokens > 0
    assert last_upstream(fake)["thinking"] == {"type": "enabled"}   # deepseek-reasoner on the official API


CALL = {"id": "call_abc", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}


@pytest.mark.parametrize("stream", [False, True])
def test_api_token_tool_use_and_tool_result_round_trip(gateway, fake, stream):
    key = fake.script(f"sk-anth-tools-{stream}", text=["Looking."], tool_calls=[CALL])
    client = sdk(gateway, key)
    if stream:
        with client.messages.stream(model="claude-sonnet-4-6", max_tokens=100, messages=TASK, tools=TOOLS) as s:
            message = s.get_final_message()
    else:
        message = client.messages.create(model="claude-sonnet-4-6", max_tokens=100, messages=TASK, tools=TOOLS)
    assert message.stop_reason == "tool_use"
    text, use = message.content
    assert text.text == "Looking." and use.type == "tool_use" and use.id == "toolu_abc"
    assert use.name == "get_weather" and use.input == {"city": "Paris"}
    assert last_upstream(fake)["tools"][0] == wt.TOOLS[0]
    client.messages.create(model="claude-sonnet-4-6", max_tokens=100, tools=TOOLS, messages=[
        *TASK, {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in message.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "21"},
                                     {"type": "text", "text": "go on"}]}])
    sent = last_upstream(fake)["messages"]
    assert sent[1] == {"role": "assistant", "content": "Looking.", "tool_calls": [
        {"id": "call_abc", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]}
    assert sent[2] == {"role": "tool", "tool_call_id": "call_abc", "content": "21"}
    assert sent[3] == {"role": "user", "content": [{"type": "text", "text": "go on"}]}


def test_a_claude_agent_loop_on_a_web_token_uses_emulated_tools(gateway, web):
    web.account("anth-web-agent", text=wt.weather_agent)
    client, messages = sdk(gateway, "anth-web-agent", bearer=True), list(TASK)
    for _ in range(4):
        with client.messages.stream(model="claude-sonnet-4-6", max_tokens=1000, messages=messages,
                                    tools=TOOLS) as stream:
            message = stream.get_final_message()
        messages.append({"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in message.content]})
        uses = [b for b in message.content if b.type == "tool_use"]
        if not uses:
            break
        assert message.stop_reason == "tool_use"
        messages.append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": u.id,
             "content": "21" if u.name == "get_weather" else str(u.input["celsius"] * 9 / 5 + 32)} for u in uses]})
    assert message.content[-1].text == "It is 69.8 °F in Paris." and message.stop_reason == "end_turn"
    assert not any(sign in json.dumps([m["content"] for m in messages]) for sign in ("<tool_calls", "invoke"))
    assert web.violations == []


def test_web_token_thinking_and_an_image(gateway, web):
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"0" * 64).decode()
    message = sdk(gateway, "anth-web-image").messages.create(
        model="claude-opus-4-1", max_tokens=100, thinking={"type": "adaptive"}, messages=[{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}},
            {"type": "text", "text": "hello web"}]}])
    assert [b.type for b in message.content] == ["thinking", "text"]
    assert message.content[0].thinking == "Let me think."
    assert web.uploads[-1]["token"] == "anth-web-image" and web.uploads[-1]["bytes"].startswith(b"\x89PNG")
    assert web.violations == []


def test_count_tokens(gateway):
    count = sdk(gateway, "sk-anth-count").messages.count_tokens(model="claude-haiku-4-5", messages=HELLO,
                                                                 system="Be brief.", tools=TOOLS)
    assert 10 < count.input_tokens < 400


@pytest.mark.parametrize("script, exception, status, kind", [
    ({"status": 401}, anthropic.AuthenticationError, 401, "authentication_error"),
    ({"status": 429, "headers": {"Retry-After": "7"}}, anthropic.RateLimitError, 429, "rate_limit_error"),
    ({"status": 503}, anthropic.InternalServerError, 503, "overloaded_error"),
    ({"status": 500}, anthropic.InternalServerError, 502, "api_error"),
])
def test_upstream_errors_in_anthropic_shape(gateway, fake, script, exception, status, kind):
    key = fake.script(f"sk-anth-err-{status}", **script)
    with pytest.raises(exception) as caught:
        sdk(gateway, key).messages.create(model="claude-haiku-4-5", max_tokens=10, messages=HELLO)
    assert caught.value.status_code == status and caught.value.body["error"]["type"] == kind
    assert caught.value.body["type"] == "error"


@pytest.mark.parametrize("body, headers, status, kind", [
    ({"model": "claude-haiku-4-5", "messages": HELLO}, {"x-api-key": "sk-x"}, 400, "invalid_request_error"),
    ({"model": "claude-haiku-4-5", "max_tokens": "9", "messages": HELLO}, {"x-api-key": "sk-x"}, 400,
     "invalid_request_error"),
    ({"model": "claude-haiku-4-5", "max_tokens": 9, "messages": [{"role": "user", "content": [{"type": "image"}]}]},
     {"x-api-key": "sk-x"}, 400, "invalid_request_error"),
    ({"model": "claude-haiku-4-5", "max_tokens": 9, "messages": [{"role": "user", "content": [5]}]},
     {"x-api-key": "sk-x"}, 400, "invalid_request_error"),
    ({"model": "claude-haiku-4-5", "max_tokens": 9, "messages": HELLO}, {}, 401, "authentication_error"),
    ("{oops", {"x-api-key": "sk-x"}, 400, "invalid_request_error"),
])
def test_bad_input_is_an_anthropic_4xx(gateway, body, headers, status, kind):
    data = body if isinstance(body, str) else json.dumps(body)
    response = requests.post(gateway.url + "/v1/messages?beta=true", data=data, timeout=10,
                             headers={"Content-Type": "application/json", "anthropic-version": "2023-06-01", **headers})
    assert response.status_code == status
    assert response.json()["type"] == "error" and response.json()["error"]["type"] == kind


def test_error_after_the_first_byte_is_an_error_event(gateway, fake):
    key = fake.script("sk-anth-cut", cut_after=2)
    with pytest.raises(anthropic.APIStatusError, match="before the answer was complete|broke"):
        with sdk(gateway, key).messages.stream(model="claude-haiku-4-5", max_tokens=10, messages=HELLO) as stream:
            for _ in stream:
                pass


def test_ping_keepalives_while_the_upstream_is_silent(gateway, fake):
    key = fake.script("sk-anth-slow", keepalives=8, pace=0.2)
    with requests.post(gateway.url + "/v1/messages", stream=True, timeout=30, headers={"x-api-key": key},
                       json={"model": "claude-haiku-4-5", "max_tokens": 10, "messages": HELLO, "stream": True}) as r:
        body = r.content.decode()
    assert body.startswith("event: message_start\n") and body.count("event: ping\ndata: {\"type\":\"ping\"}") >= 2
    assert body.endswith('event: message_stop\ndata: {"type":"message_stop"}\n\n')
    with sdk(gateway, key).messages.stream(model="claude-haiku-4-5", max_tokens=10, messages=HELLO) as stream:
        assert stream.get_final_text() == "echo: hello claude"


def test_a_client_that_leaves_cancels_the_upstream(gateway, fake):
    fake.disconnected.clear()
    key = fake.script("sk-anth-long", text=["tick "] * 1000, pace=0.05)
    response = requests.post(gateway.url + "/v1/messages", stream=True, timeout=30, headers={"x-api-key": key},
                             json={"model": "claude-haiku-4-5", "max_tokens": 10, "messages": HELLO, "stream": True})
    next(response.iter_content(chunk_size=None))
    response.close()
    assert fake.disconnected.wait(timeout=10), "upstream still open 10 s after the client left"


def test_head_probe_and_the_log_line_names_the_dialect(gateway):
    assert requests.head(gateway.url + "/", timeout=5).status_code == 200
    assert "dialect=anthropic_messages" in gateway.log.read_text()

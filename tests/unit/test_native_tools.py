"""Tool calls with API providers: passed through, and normalised whatever the provider's quirks."""

from __future__ import annotations

import json

import pytest

from tests.fakes import web_tools as wt
from tests.unit.test_chat_app import sse_events

ASK = [{"role": "user", "content": "weather in Paris?"}]


def chat(client, key, stream=False, **body):
    return client.post("/v1/chat/completions", json={"model": "deepseek-chat", "messages": ASK, "stream": stream,
                                                     **body}, headers={"Authorization": f"Bearer {key}"})


def assembled(response) -> tuple[list, str, str | None]:
    """(calls, content, finish_reason) from a stream, assembled by index as the SDKs do."""
    calls: dict = {}
    content, finish = "", None
    for event in sse_events(response):
        if not isinstance(event, dict) or not event.get("choices"):
            continue
        choice = event["choices"][0]
        content += choice["delta"].get("content") or ""
        finish = choice["finish_reason"] or finish
        for piece in choice["delta"].get("tool_calls") or []:
            call = calls.setdefault(piece["index"], {"id": None, "name": "", "arguments": ""})
            call["id"] = piece.get("id") or call["id"]
            call["name"] += piece.get("function", {}).get("name") or ""
            call["arguments"] += piece.get("function", {}).get("arguments") or ""
    return [calls[i] for i in sorted(calls)], content, finish


QUIRKS = {
    "whole_call_in_one_delta_without_index": [
        {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}],
    "arguments_as_an_object": [
        {"index": 0, "id": "call_a", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}],
    "pieces_without_index": [
        {"id": "call_a", "function": {"name": "get_weather", "arguments": ""}},
        {"function": {"arguments": '{"city":'}}, {"function": {"arguments": '"Paris"}'}}],
    "name_and_id_repeated_on_every_piece": [
        {"index": 0, "id": "call_a", "function": {"name": "get_weather", "arguments": '{"city":'}},
        {"index": 0, "id": "call_a", "function": {"name": "get_weather", "arguments": '"Paris"}'}}],
}


@pytest.mark.parametrize("quirk", list(QUIRKS))
@pytest.mark.parametrize("stream", [False, True])
def test_provider_quirks_are_normalised_and_stop_after_calls_becomes_tool_calls(client, fake, quirk, stream):
    fake.script("sk-q", text=[], tool_calls=QUIRKS[quirk], finish="stop")
    response = chat(client, "sk-q", stream=stream, tools=wt.TOOLS)
    assert response.status_code == 200
    if stream:
        calls, content, finish = assembled(response)
    else:
        choice = response.json["choices"][0]
        finish, content = choice["finish_reason"], choice["message"]["content"]
        calls = [{"id": c["id"], **c["function"]} for c in choice["message"]["tool_calls"]]
    assert finish == "tool_calls" and not content
    assert [(c["id"], c["name"], json.loads(c["arguments"])) for c in calls] == [
        ("call_a", "get_weather", {"city": "Paris"})]


def test_every_call_numbered_zero_with_its_own_id_becomes_two_calls(client, fake):
    fake.script("sk-z", text=[], tool_calls=[
        {"index": 0, "id": "call_a", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
        {"index": 0, "id": "call_b", "function": {"name": "to_fahrenheit", "arguments": '{"celsius":20}'}}])
    calls, _, finish = assembled(chat(client, "sk-z", stream=True, tools=wt.TOOLS))
    assert [(c["id"], c["name"]) for c in calls] == [("call_a", "get_weather"), ("call_b", "to_fahrenheit")]


def test_a_whole_json_answer_with_calls_is_normalised(client, fake):
    fake.script("sk-j", json_reply=True, text=[], tool_calls=[
        {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}])
    choice = chat(client, "sk-j", tools=wt.TOOLS).json["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    assert choice["message"]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}


def test_tools_choice_and_tool_history_go_upstream_unchanged(client, fake):
    history = ASK + [{"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]},
        {"role": "tool", "tool_call_id": "call_a", "content": "21"}]
    chat(client, "sk-h", messages=history, tools=wt.TOOLS, tool_choice="required", parallel_tool_calls=False)
    sent = fake.requests[-1]["json"]
    assert sent["messages"] == history and sent["tools"] == wt.TOOLS
    assert sent["tool_choice"] == "required" and sent["parallel_tool_calls"] is False


def test_reasoning_and_calls_share_a_turn(client, fake):
    fake.script("sk-r", reasoning=["Need ", "weather."], reasoning_style="think", text=["Checking."],
                tool_calls=QUIRKS["arguments_as_an_object"])
    message = chat(client, "sk-r", model="deepseek-r1", tools=wt.TOOLS).json["choices"][0]["message"]
    assert message["reasoning_content"] == "Need weather." and message["content"] == "Checking."
    assert message["tool_calls"][0]["function"]["name"] == "get_weather"


def test_legacy_functions_go_up_as_tools_and_come_back_as_function_call(client, fake):
    fake.script("sk-l", text=[], tool_calls=QUIRKS["arguments_as_an_object"])
    functions = [wt.WEATHER["function"]]
    body = chat(client, "sk-l", functions=functions, function_call={"name": "get_weather"}).json
    sent = fake.requests[-1]["json"]
    assert "functions" not in sent and sent["tools"] == [{"type": "function", "function": functions[0]}]
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    choice = body["choices"][0]
    assert choice["finish_reason"] == "function_call"
    assert choice["message"]["function_call"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    assert "tool_calls" not in choice["message"]
    events = sse_events(chat(client, "sk-l", stream=True, functions=functions))
    deltas = [e["choices"][0]["delta"] for e in events if isinstance(e, dict) and e.get("choices")]
    assert [d["function_call"] for d in deltas if "function_call" in d] == [
        {"name": "get_weather", "arguments": ""}, {"arguments": '{"city": "Paris"}'}]


@pytest.mark.parametrize("tools, param", [([{"type": "function"}], "tools[0]"), ("x", "tools"),
                                          ([wt.WEATHER], "tool_choice")])
def test_malformed_tools_are_a_400_that_names_the_field(client, tools, param):
    body = {"tool_choice": {"type": "function", "function": {"name": "nope"}}} if param == "tool_choice" else {}
    response = chat(client, "sk-x", tools=tools, **body)
    assert response.status_code == 400 and response.json["error"]["param"] == param

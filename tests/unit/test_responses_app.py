"""The OpenAI Responses dialect through the app, in process, against the fakes on loopback."""

from __future__ import annotations

import json

import pytest


def named_events(response) -> list[tuple[str, dict]]:
    """Parse an `event:` SSE body into (name, data) pairs, skipping comments."""
    events = []
    for block in response.get_data(as_text=True).split("\n\n"):
        if not block or block.startswith(":"):
            continue
        name, data = block.split("\n", 1)
        assert name.startswith("event: ") and data.startswith("data: "), block
        events.append((name[7:], json.loads(data[6:])))
    return events


def respond(client, key, **body):
    return client.post("/v1/responses", json={"model": "deepseek-chat", "input": "hi", **body},
                       headers={"Authorization": f"Bearer {key}"})


@pytest.mark.parametrize("stream", [False, True])
def test_a_web_token_answers_with_the_default_store(client, web, stream):
    web.account("resp-web-store")
    response = respond(client, "resp-web-store", stream=stream)
    assert response.status_code == 200
    final = named_events(response)[-1][1]["response"] if stream else response.json
    assert final["status"] == "completed"
    assert final["output"][-1]["content"][0]["text"] == "echo: hi"
    follow = respond(client, "resp-web-store", input="again", previous_response_id=final["id"])
    assert follow.status_code == 200 and follow.json["status"] == "completed"


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("field", [{"reasoning": "high"}, {"text": "plain"}, {"text": {"format": "json_object"}},
                                   {"tools": [{"type": "namespace", "tools": "abc"}]},
                                   {"tools": [{"type": "namespace", "tools": ["abc"]}]}, {"tools": ["abc"]},
                                   {"tool_choice": 5}, {"metadata": [1]}])
def test_odd_field_types_are_openai_400s(client, field, stream):
    response = respond(client, "sk-resp-odd", stream=stream, **field)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.json["error"]["type"] == "invalid_request_error" and response.json["error"]["param"]


def test_a_failure_while_rendering_the_failure_still_ends_the_stream(make_app, fake, monkeypatch):
    from services.dialects.openai_responses import ResponsesRenderer

    def broken(self, *args, **kwargs):
        raise KeyError("boom")
    monkeypatch.setattr(ResponsesRenderer, "response", broken)
    response = respond(make_app().test_client(), fake.script("sk-resp-broken"), stream=True)
    events = named_events(response)
    assert [name for name, _ in events[-2:]] == ["error", "response.failed"]
    assert events[-1][1]["response"]["status"] == "failed"


def test_a_slow_answer_that_fails_is_a_failed_response(client, fake):
    key = fake.script("sk-resp-late", keepalives=6, pace=0.3, mid_stream_error=True)
    response = respond(client, key)
    assert response.status_code == 200   # committed by the leading whitespace before the failure
    body = json.loads(response.get_data())
    assert body["object"] == "response" and body["status"] == "failed"
    assert body["error"]["message"] and body["output"][0]["content"][0]["text"]


def items_of(events: list[tuple[str, dict]]) -> dict[int, dict]:
    """Rebuild the output items as a strict client does, failing on a delta to an item that is not open."""
    items, open_ = {}, None
    for name, data in events:
        if name == "response.output_item.added":
            assert open_ is None and data["output_index"] not in items
            items[data["output_index"]] = {**data["item"], "arguments": ""}
            open_ = data["output_index"]
        elif name == "response.function_call_arguments.delta":
            assert data["output_index"] == open_, (data, open_)
            items[open_]["arguments"] += data["delta"]
        elif name == "response.function_call_arguments.done":
            assert data["output_index"] == open_ and data["arguments"] == items[open_]["arguments"]
        elif name == "response.output_item.done":
            assert data["output_index"] == open_
            if data["item"]["type"] == "function_call":
                assert data["item"]["arguments"] == items[open_]["arguments"]
            open_ = None
    assert open_ is None
    return items


def test_interleaved_parallel_calls_stream_as_whole_items_in_order(client, fake):
    from tests.unit.test_messages_app import INTERLEAVED
    key = fake.script("sk-resp-interleaved", text=[], tool_calls=INTERLEAVED)
    events = named_events(respond(client, key, stream=True))
    calls = [(i["name"], json.loads(i["arguments"])) for i in items_of(events).values()
             if i["type"] == "function_call"]
    assert calls == [("get_weather", {"city": "Paris"}), ("get_time", {"zone": "CET"})]
    final = events[-1][1]["response"]["output"]
    assert [(i["call_id"], json.loads(i["arguments"])) for i in final] == [("call_a", {"city": "Paris"}),
                                                                           ("call_b", {"zone": "CET"})]


def test_a_failed_stream_reports_its_text_in_final_form(client, fake):
    key = fake.script("sk-resp-cut", reasoning=["Hm."], text=["Par", "tial", " more"], cut_after=3)
    events = named_events(respond(client, key, model="deepseek-reasoner", stream=True))
    assert [name for name, _ in events[-2:]] == ["error", "response.failed"]
    output = events[-1][1]["response"]["output"]
    assert output[0]["summary"] == [{"type": "summary_text", "text": "Hm."}]
    assert output[1]["content"][0]["text"] == "Partial" and output[1]["status"] == "incomplete"
    assert all(not key.startswith("_") for item in output for key in item)


def test_a_function_call_output_without_its_call_is_a_400(client, fake):
    orphan = [{"role": "user", "content": "hi"},
              {"type": "function_call_output", "call_id": "call_nope", "output": "1"}]
    response = respond(client, "sk-resp-orphan", input=orphan)
    assert response.status_code == 400 and response.json["error"]["param"] == "input"
    assert response.json["error"]["message"] == "No tool call found for function call output with call_id call_nope."
    answered = [{"type": "function_call", "call_id": "call_yes", "name": "f", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "call_yes", "output": "1"}]
    first = respond(client, "sk-resp-orphan", input=[{"role": "user", "content": "hi"}, *answered[:1]])
    assert first.status_code == 200
    follow = respond(client, "sk-resp-orphan", input=answered[1:], previous_response_id=first.json["id"])
    assert follow.status_code == 200


def test_a_stored_response_continues_only_for_the_credential_that_made_it(client, fake):
    first = respond(client, "sk-resp-alice", input="alice's secret")
    assert first.status_code == 200
    sent = len(fake.requests)
    other = respond(client, "sk-resp-mallory", input="go on", previous_response_id=first.json["id"])
    assert other.status_code == 404 and other.json["error"]["code"] == "previous_response_not_found"
    assert len(fake.requests) == sent
    mine = respond(client, "sk-resp-alice", input="go on", previous_response_id=first.json["id"])
    assert mine.status_code == 200


def test_credentials_are_checked_before_the_body_or_the_store(client):
    response = client.post("/v1/responses", json={"model": "deepseek-chat", "input": 5,
                                                  "previous_response_id": "resp_x"})
    assert response.status_code == 401 and response.json["error"]["type"] == "authentication_error"
    response = client.post("/v1/messages", json={"model": "claude-haiku-4-5", "messages": 5})
    assert response.status_code == 401 and response.json["error"]["type"] == "authentication_error"

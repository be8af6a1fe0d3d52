"""The OpenAI Responses dialect under gunicorn + gevent, driven by the openai SDK's `responses` API, against the fakes."""

from __future__ import annotations

import json

import openai
import pytest
import requests

from tests.e2e.conftest import closed_later
from tests.fakes import web_tools as wt

TOOLS = [{"type": "function", "name": t["function"]["name"], "description": t["function"]["description"],
          "parameters": t["function"]["parameters"]} for t in wt.TOOLS]
TASK = "What is the weather in Paris, in Fahrenheit?"


def sdk(gateway, key):
    return closed_later(openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0, timeout=60))


def test_non_stream_with_instructions_and_a_developer_message(gateway, fake):
    response = sdk(gateway, "sk-resp-plain").responses.create(
        model="deepseek-chat", instructions="Be brief.",
        input=[{"type": "message", "role": "developer", "content": "Answer in English."},
               {"role": "user", "content": [{"type": "input_text", "text": "hello codex"}]}])
    assert response.output_text == "echo: [{'type': 'text', 'text': 'hello codex'}]"
    assert response.status == "completed" and response.id.startswith("resp_")
    assert response.usage.output_tokens == 3 and response.usage.input_tokens_details.cached_tokens == 2
    assert fake.requests[-1]["json"]["messages"][:2] == [{"role": "system", "content": "Be brief."},
                                                         {"role": "system", "content": "Answer in English."}]


def test_stream_events_in_order_with_rising_sequence_numbers_and_reasoning(gateway, fake):
    key = fake.script("sk-resp-think", reasoning=["Because", " so."], text=["Do", "ne"])
    events = list(sdk(gateway, key).responses.create(model="deepseek-reasoner", input="hi", stream=True))
    assert [e.sequence_number for e in events] == list(range(len(events)))
    kinds = [e.type for e in events]
    assert kinds[:3] == ["response.created", "response.in_progress", "response.output_item.added"]
    assert kinds[-1] == "response.completed"
    assert "response.reasoning_summary_text.delta" in kinds and "response.output_text.done" in kinds
    final = events[-1].response
    assert [item.type for item in final.output] == ["reasoning", "message"]
    assert final.output[0].summary[0].text == "Because so." and final.output_text == "Done"
    assert final.usage.output_tokens_details.reasoning_tokens == 2
    with sdk(gateway, key).responses.stream(model="deepseek-reasoner", input="hi") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        assert deltas == ["Do", "ne"] and stream.get_final_response().output_text == "Done"


CALL = {"id": "call_abc", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}


@pytest.mark.parametrize("stream", [False, True])
def test_function_calls_and_their_outputs_round_trip(gateway, fake, stream):
    key = fake.script(f"sk-resp-tools-{stream}", text=[], tool_calls=[CALL])
    client = sdk(gateway, key)
    if stream:
        with client.responses.stream(model="deepseek-chat", input=TASK, tools=TOOLS) as s:
            response = s.get_final_response()
    else:
        response = client.responses.create(model="deepseek-chat", input=TASK, tools=TOOLS)
    calls = [item for item in response.output if item.type == "function_call"]
    assert [(c.call_id, c.name, json.loads(c.arguments)) for c in calls] == [("call_abc", "get_weather",
                                                                            {"city": "Paris"})]
    assert fake.requests[-1]["json"]["tools"][0] == wt.TOOLS[0]
    client.responses.create(model="deepseek-chat", tools=TOOLS, store=False, input=[
        {"role": "user", "content": TASK}, {"type": "reasoning", "id": "rs_1", "summary": []},
        *[c.model_dump(exclude_none=True) for c in calls],
        {"type": "function_call_output", "call_id": "call_abc", "output": "21"}])
    sent = fake.requests[-1]["json"]["messages"]
    assert sent[1] == {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_abc", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]}
    assert sent[2] == {"role": "tool", "tool_call_id": "call_abc", "content": "21"}


def test_a_responses_agent_loop_on_a_web_token_uses_emulated_tools(gateway, web):
    web.account("resp-web-agent", text=wt.weather_agent)
    client = sdk(gateway, "resp-web-agent")
    items: list = [{"role": "user", "content": TASK}]
    for _ in range(4):
        with client.responses.stream(model="deepseek-chat", input=items, tools=TOOLS, store=False) as stream:
            response = stream.get_final_response()
        items += [item.model_dump(exclude_none=True) for item in response.output]
        calls = [item for item in response.output if item.type == "function_call"]
        if not calls:
            break
        items += [{"type": "function_call_output", "call_id": c.call_id,
                   "output": "21" if c.name == "get_weather" else str(json.loads(c.arguments)["celsius"] * 9 / 5 + 32)}
                  for c in calls]
    assert response.output_text == "It is 69.8 °F in Paris."
    assert web.violations == []


def test_previous_response_id_continues_and_unknown_ids_are_404(gateway, fake):
    client = sdk(gateway, "sk-resp-store")
    first = client.responses.create(model="deepseek-chat", input="first turn", instructions="Only once.")
    client.responses.create(model="deepseek-chat", input="second turn", previous_response_id=first.id)
    assert fake.requests[-1]["json"]["messages"] == [
        {"role": "user", "content": "first turn"}, {"role": "assistant", "content": "echo: first turn"},
        {"role": "user", "content": "second turn"}]
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model="deepseek-chat", input="x", previous_response_id="resp_unknown")
    assert caught.value.body["code"] == "previous_response_not_found"
    unstored = client.responses.create(model="deepseek-chat", input="secret", store=False)
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="deepseek-chat", input="x", previous_response_id=unstored.id)


def test_web_token_stream_with_reasoning_and_an_image(gateway, web):
    png = "data:image/png;base64,iVBORw0KGgowMDAwMDAwMDAwMDAw"
    events = list(sdk(gateway, "resp-web-1").responses.create(model="deepseek-r1", stream=True, input=[
        {"role": "user", "content": [{"type": "input_image", "image_url": png},
                                     {"type": "input_text", "text": "hello web"}]}]))
    final = events[-1].response
    assert final.output[0].summary[0].text == "Let me think." and final.output_text.startswith("echo:")
    assert web.uploads[-1]["token"] == "resp-web-1" and web.violations == []


@pytest.mark.parametrize("body, exception", [
    ({"model": "deepseek-chat", "input": 5}, openai.BadRequestError),
    ({"model": "deepseek-chat", "input": [{"type": "function_call"}]}, openai.BadRequestError),
    ({"model": "deepseek-chat", "input": [{"role": "user", "content": [{"type": "input_image"}]}]},
     openai.BadRequestError),
    ({"model": "deepseek-chat", "input": "x", "tools": [{"type": "function"}]}, openai.BadRequestError),
    ({"model": "deepseek-chat", "input": "x", "max_output_tokens": -1}, openai.BadRequestError),
])
def test_bad_input_is_an_openai_4xx(gateway, body, exception):
    with pytest.raises(exception) as caught:
        sdk(gateway, "sk-resp-bad").post("/responses", body=body, cast_to=object)
    assert caught.value.body["type"] == "invalid_request_error"


def test_no_credentials_is_401_and_built_in_tools_are_ignored(gateway, fake):
    bare = requests.post(gateway.url + "/v1/responses", json={"model": "deepseek-chat", "input": "x"}, timeout=10)
    assert bare.status_code == 401 and bare.json()["error"]["type"] == "authentication_error"
    response = sdk(gateway, "sk-resp-builtin").responses.create(
        model="deepseek-chat", input="hello", tools=[{"type": "web_search"}, {"type": "namespace", "name": "ns",
                                                                            "tools": TOOLS}],
        include=["reasoning.encrypted_content"], reasoning={"summary": "auto"}, store=False, prompt_cache_key="k")
    assert response.output_text == "echo: hello"
    assert [t["function"]["name"] for t in fake.requests[-1]["json"]["tools"]] == ["get_weather", "to_fahrenheit"]


def test_error_after_the_first_byte_is_an_error_event_then_failed(gateway, fake):
    key = fake.script("sk-resp-cut", cut_after=2)
    events = list(sdk(gateway, key).responses.create(model="deepseek-chat", input="x", stream=True))
    assert [e.type for e in events[-2:]] == ["error", "response.failed"]
    assert events[-1].response.status == "failed" and events[-1].response.error.message


def test_keepalives_and_cancellation(gateway, fake):
    key = fake.script("sk-resp-slow", keepalives=8, pace=0.2)
    with requests.post(gateway.url + "/v1/responses", stream=True, timeout=30, headers={"Authorization": f"Bearer {key}"},
                       json={"model": "deepseek-chat", "input": "hi", "stream": True}) as r:
        body = r.content.decode()
    assert body.startswith("event: response.created\n") and body.count(": keep-alive\n\n") >= 2
    assert "event: response.completed" in body and "[DONE]" not in body
    fake.disconnected.clear()
    key = fake.script("sk-resp-long", text=["tick "] * 1000, pace=0.05)
    response = requests.post(gateway.url + "/v1/responses", stream=True, timeout=30,
                             headers={"Authorization": f"Bearer {key}"},
                             json={"model": "deepseek-chat", "input": "hi", "stream": True})
    next(response.iter_content(chunk_size=None))
    response.close()
    assert fake.disconnected.wait(timeout=10), "upstream still open 10 s after the client left"

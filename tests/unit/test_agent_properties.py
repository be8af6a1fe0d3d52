"""Property-based tests of the agent dialects: odd field types never give a 5xx, errors keep each dialect's shape."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.test_properties import json_values

BOUNDED = settings(max_examples=50, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# Odd values that reach nested readers: objects whose fields are themselves odd, lists of non-objects.
odd = st.one_of(json_values, st.dictionaries(st.sampled_from(["type", "tools", "format", "effort", "name",
                                                                 "content", "role", "summary"]), json_values,
                                                max_size=3),
                st.lists(st.one_of(json_values, st.fixed_dictionaries(
                    {"type": st.sampled_from(["namespace", "function", "message", "function_call_output",
                                              "text", "tool_result", "image"])},
                    optional={"tools": json_values, "name": json_values, "content": json_values,
                              "call_id": json_values, "tool_use_id": json_values})), max_size=3))

RESPONSES_FIELDS = ["model", "input", "instructions", "tools", "tool_choice", "stream", "store", "reasoning",
                    "text", "max_output_tokens", "temperature", "top_p", "previous_response_id",
                    "parallel_tool_calls", "include", "metadata"]
MESSAGES_FIELDS = ["model", "max_tokens", "messages", "system", "tools", "tool_choice", "thinking", "stream",
                   "temperature", "top_p", "stop_sequences", "metadata"]


def bodies(base: dict, names: list[str]):
    """A valid body with one to three of its fields replaced by odd values."""
    return st.dictionaries(st.sampled_from(names), odd, min_size=1, max_size=3).map(lambda odd: {**base, **odd})


def terminal(text: str) -> str:
    """The last event name of an `event:` stream."""
    names = [line[7:] for line in text.splitlines() if line.startswith("event: ")]
    return names[-1] if names else ""


@BOUNDED
@given(body=bodies({"model": "deepseek-chat", "input": "hi"}, RESPONSES_FIELDS))
def test_responses_never_5xx_and_errors_are_openai_shaped(client, body):
    response = client.post("/v1/responses", json=body, headers={"Authorization": "Bearer sk-fuzz"})
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code >= 400:
        error = response.json["error"]
        assert isinstance(error["message"], str) and error["type"] == "invalid_request_error" or \
            response.status_code == 404
    elif response.mimetype == "text/event-stream":
        assert terminal(response.get_data(as_text=True)) in ("response.completed", "response.incomplete")
    else:
        assert json.loads(response.get_data())["status"] in ("completed", "incomplete")


@BOUNDED
@given(body=bodies({"model": "claude-haiku-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
                   MESSAGES_FIELDS))
def test_messages_never_5xx_and_errors_are_anthropic_shaped(client, body):
    response = client.post("/v1/messages", json=body, headers={"x-api-key": "sk-fuzz"})
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code >= 400:
        assert response.json["type"] == "error"
        assert response.json["error"]["type"] in ("invalid_request_error", "not_found_error")
    elif response.mimetype == "text/event-stream":
        assert terminal(response.get_data(as_text=True)) == "message_stop"
    else:
        assert json.loads(response.get_data())["type"] == "message"

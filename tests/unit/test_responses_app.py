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

"""Stored responses through the openai SDK's `responses` API, in process on each backend: their bounds, what an
evicted or unstored id answers, and an answer that outlives the store it was to be saved in."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.fakes import web_tools as wt
from tests.fakes.redis_server import RedisServer

TOOLS = [{"type": "function", "name": t["function"]["name"], "description": t["function"]["description"],
          "parameters": t["function"]["parameters"]} for t in wt.TOOLS]


def sdk(app, key: str) -> openai.OpenAI:
    """The openai SDK talking to the app in this process."""
    return openai.OpenAI(base_url="http://gateway/v1", api_key=key, max_retries=0,
                         http_client=httpx.Client(transport=httpx.WSGITransport(app=app)))


@pytest.fixture(params=["memory", "redis"])
def backend(request):
    """Extra environment for each backend."""
    return {} if request.param == "memory" else {"FREESEEK_REDIS_URL": request.getfixturevalue("redis_url")}


def continue_from(client: openai.OpenAI, response_id: str):
    return client.responses.create(model="deepseek-chat", input="go on", previous_response_id=response_id)


def test_one_callers_flood_does_not_evict_anothers_and_its_own_oldest_is_a_clear_404(make_app, fake, backend):
    app = make_app(FREESEEK_RESPONSE_STORE_MAX="10", FREESEEK_RESPONSE_STORE_CALLER_MAX="3", **backend)
    bob, alice = sdk(app, "sk-store-bob"), sdk(app, "sk-store-alice")
    kept = bob.responses.create(model="deepseek-chat", input="bob's question")
    flood = [alice.responses.create(model="deepseek-chat", input=f"tiny {i}").id for i in range(12)]
    assert continue_from(bob, kept.id).status == "completed"
    assert continue_from(alice, flood[-1]).status == "completed"
    with pytest.raises(openai.NotFoundError) as caught:
        continue_from(alice, flood[0])
    assert caught.value.body["code"] == "previous_response_not_found"
    assert caught.value.body["param"] == "previous_response_id" and "evicted" in caught.value.body["message"]


@pytest.mark.parametrize("stream", [False, True])
def test_a_response_past_the_byte_bound_is_answered_as_not_stored(make_app, fake, backend, stream):
    app = make_app(FREESEEK_RESPONSE_STORE_CALLER_MAX_BYTES="2000", **backend)
    client = sdk(app, "sk-store-big")
    response = _create(client, stream, "x" * 3000)
    assert response.status == "completed" and response.output_text == "echo: " + "x" * 3000
    assert response.store is False
    with pytest.raises(openai.NotFoundError):
        continue_from(client, response.id)
    small = _create(client, stream, "small")
    assert small.store is True and continue_from(client, small.id).status == "completed"


def _create(client: openai.OpenAI, stream: bool, text: str):
    """A response, whole or streamed (then checked event by event and returned from its last event)."""
    if not stream:
        return client.responses.create(model="deepseek-chat", input=text)
    events = list(client.responses.create(model="deepseek-chat", input=text, stream=True))
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[-1].type == "response.completed" and not [e for e in events if e.type == "error"]
    done = [e.item for e in events if e.type == "response.output_item.done"]
    assert [(item.type, item.status) for item in done] == [("message", "completed")]
    return events[-1].response


@pytest.mark.parametrize("stream", [False, True])
def test_redis_lost_between_the_answer_and_its_save_still_completes_the_answer(make_app, fake, stream):
    server = RedisServer()   # this test's own: it is stopped
    server.mark_fresh()
    try:
        app = make_app(FREESEEK_REDIS_URL=server.url)
        store = app.extensions["freeseek"].responses.store
        save = store.put

        def redis_dies_then_save(*args):
            server.stop()
            return save(*args)
        store.put = redis_dies_then_save
        client = sdk(app, "sk-store-lost")
        response = _create(client, stream, "hello")
        assert response.status == "completed" and response.output_text == "echo: hello"
        assert response.store is False
        metrics = app.test_client().get("/metrics").get_data(as_text=True)
        assert 'freeseek_responses_not_stored_total{reason="store_unavailable"} 1.0' in metrics
        server.start()   # back, and empty
        with pytest.raises(openai.NotFoundError) as caught:
            continue_from(client, response.id)
        assert caught.value.body["code"] == "previous_response_not_found"
    finally:
        server.stop()


@pytest.mark.parametrize("stream", [False, True])
def test_redis_lost_before_tool_memory_is_kept_still_answers_the_calls(make_app, web, stream):
    server = RedisServer()   # this test's own: it is stopped
    server.mark_fresh()
    try:
        app = make_app(FREESEEK_REDIS_URL=server.url)
        memory = app.extensions["freeseek"].adapters["deepseek-web"].memory
        remember = memory.remember_answer

        def redis_dies_then_remember(*args):
            server.stop()
            return remember(*args)
        memory.remember_answer = redis_dies_then_remember
        web.account("resp-web-lost", text=wt.weather_agent)
        client = sdk(app, "resp-web-lost")
        body = dict(model="deepseek-chat", input="What is the weather in Paris, in Fahrenheit?", tools=TOOLS)
        if stream:
            events = list(client.responses.create(stream=True, **body))
            assert [e.sequence_number for e in events] == list(range(len(events)))
            assert events[-1].type == "response.completed" and not [e for e in events if e.type == "error"]
            response = events[-1].response
        else:
            response = client.responses.create(**body)
        assert response.status == "completed" and response.store is False
        assert [(item.type, item.name) for item in response.output if item.type == "function_call"] == [
            ("function_call", "get_weather")]
    finally:
        server.stop()

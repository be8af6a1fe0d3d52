"""What one request costs the shared store in Redis mode: round trips per request through the app (API and web
tokens, streamed and whole), and scripts whose keys all hash to one Redis Cluster slot."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.fakes.redis_calls import watching

# A lease with its queue ticket and the tokens' health (1), the release with the success and the wake (1).
POOL_ROUND_TRIPS = 2


def sdk(app, key: str) -> openai.OpenAI:
    """The openai SDK talking to the app in this process."""
    return openai.OpenAI(base_url="http://gateway/v1", api_key=key, max_retries=0,
                         http_client=httpx.Client(transport=httpx.WSGITransport(app=app)))


def ask(client: openai.OpenAI, messages: list[dict], stream: bool) -> str:
    """The answer's text, streamed or whole."""
    if not stream:
        return client.chat.completions.create(model="deepseek-chat", messages=messages).choices[0].message.content
    chunks = client.chat.completions.create(model="deepseek-chat", messages=messages, stream=True)
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


@pytest.mark.parametrize("stream", [False, True])
def test_an_api_request_leases_and_releases_in_two_round_trips(make_app, redis_url, stream):
    client = sdk(make_app(FREESEEK_REDIS_URL=redis_url), "sk-round-trips")
    ask(client, [{"role": "user", "content": "warm up"}], stream)  # scripts loaded, the state secret read
    with watching() as calls:
        assert ask(client, [{"role": "user", "content": "hello"}], stream)
    assert calls.round_trips <= POOL_ROUND_TRIPS, " ".join(calls.commands)
    assert not calls.cross_slot


@pytest.mark.parametrize("stream", [False, True])
def test_a_continued_web_request_keeps_its_round_trips_few(make_app, web, redis_url, stream):
    web.account("webtok-trips", text=lambda prompt: ["Sure."])
    client = sdk(make_app(FREESEEK_REDIS_URL=redis_url), "webtok-trips")
    history = [{"role": "user", "content": "hello"}]
    for _ in range(2):   # the first continuation loads the scripts
        history += [{"role": "assistant", "content": ask(client, history, stream)}, {"role": "user", "content": "more"}]
    with watching() as calls:
        assert ask(client, history, stream) == "Sure."
    # The pool's two; the account's pace checked at the lease and counted as the answer goes out; the
    # conversation looked up (when choosing the account, and again once it is leased), its session marked busy,
    # the turn remembered, the session idle.
    assert calls.round_trips <= POOL_ROUND_TRIPS + 2 + 5, " ".join(calls.commands)
    assert not calls.cross_slot

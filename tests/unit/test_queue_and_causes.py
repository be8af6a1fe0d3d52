"""A queue that waits instead of failing, and errors that name every token's real cause."""

from __future__ import annotations

import threading

import pytest

from app import create_app
from tests.conftest import FAST_ENV, provider_overrides
from tests.fakes.faulty_upstream import FaultyUpstream, wait_until


@pytest.fixture
def faulty():
    with FaultyUpstream() as server:
        yield server


def chat(client, tokens: str, content: str = "hi"):
    return client.post("/v1/chat/completions", json={"model": "deepseek-chat", "messages": [
        {"role": "user", "content": content}]}, headers={"Authorization": f"Bearer {tokens}"})


def test_n_requests_on_one_account_after_a_rate_limit_are_all_answered_in_arrival_order(faulty, fake, web):
    providers = {**provider_overrides(fake.url, web.url), "deepseek": {"base_url": faulty.url, "concurrency": 1}}
    app = create_app({"env": {**FAST_ENV, "FREESEEK_QUEUE_TIMEOUT": "20", "FREESEEK_FIRST_HEARTBEAT_SECONDS": "30"},
                      "providers": providers})
    pool, client = app.extensions["freeseek"].pool, app.test_client()
    token = faulty.fault("sk-one-account", "storm_429", count=1, retry_after=1)  # "too frequent" once
    statuses: dict[int, int] = {}

    def ask(i: int) -> None:
        statuses[i] = chat(client, token, f"request {i}").status_code
    threads = []
    for i in range(8):
        threads.append(threading.Thread(target=ask, args=(i,)))
        threads[-1].start()
        if i == 0:
            assert faulty.received[token].wait(5)  # the first one met the rate limit and waits it out
        assert wait_until(lambda: len(pool._waiters) == i + 1, 5), "requests did not queue in turn"
    for thread in threads:
        thread.join(30)
    assert statuses == {i: 200 for i in range(8)}
    assert [prompt for _, prompt in faulty.served] == [f"request {i}" for i in range(8)]


def test_a_cooldown_longer_than_the_queue_timeout_is_refused_at_once_with_a_truthful_retry_after(faulty):
    providers = {"deepseek": {"base_url": faulty.url}}
    app = create_app({"env": FAST_ENV, "providers": providers})
    client = app.test_client()
    token = faulty.fault("sk-slow-down", "storm_429", count=5, retry_after=30)
    first = chat(client, token)
    assert first.status_code == 429 and first.headers["Retry-After"] == "30"
    again = chat(client, token)  # FREESEEK_QUEUE_TIMEOUT is 3 s: waiting 30 s would exceed it
    assert again.status_code == 429 and int(again.headers["Retry-After"]) in (29, 30)
    message = again.json["error"]["message"]
    assert "rate-limited" in message and "rests" in message and "tok:" in message
    assert len(faulty.served) == 0 and faulty.faults[token].count == 4  # not sent upstream again


def test_the_readme_three_token_example_names_each_token_and_its_cause():
    # Three keys of a provider that cannot be reached (nothing listens on port 1).
    app = create_app({"env": FAST_ENV, "providers": {"siliconflow": {"base_url": "http://127.0.0.1:1/v1"}}})
    client = app.test_client()
    tokens = "siliconflow:sk-a1,siliconflow:sk-b2,siliconflow:sk-c3"
    refs = [t.ref for t in app.extensions["freeseek"].completions.tokens_for(f"Bearer {tokens}")]
    for response in (chat(client, tokens), chat(client, tokens)):  # the second right after the failure
        message = response.json["error"]["message"]
        assert response.status_code == 502, message
        assert all(ref in message for ref in refs) and message.count("could not connect") == 3, message
        assert "rests" in message and "cooling down" not in message


def test_tokens_left_untried_when_the_precommit_budget_ran_out_say_so(faulty):
    app = create_app({"env": {**FAST_ENV, "FREESEEK_PRECOMMIT_SECONDS": "1", "FREESEEK_QUEUE_TIMEOUT": "30",
                              "FREESEEK_FIRST_HEARTBEAT_SECONDS": "30"},
                      "providers": {"deepseek": {"base_url": faulty.url}}})
    app.extensions["freeseek"].pool.choose = lambda tokens: tokens[0]
    stalled = faulty.fault("sk-stalls-first", "stall_headers")
    response = chat(app.test_client(), f"{stalled},sk-free-but-late")
    assert response.status_code == 504
    message = response.json["error"]["message"]
    assert "not tried: the 1 s a request may wait before its status is sent were spent " \
           "(FREESEEK_PRECOMMIT_SECONDS)" in message and "no slot was free" not in message


def test_a_silent_upstream_names_the_timeout_that_fired(faulty):
    app = create_app({"env": {**FAST_ENV, "FREESEEK_FIRST_CONTENT_TIMEOUT": "30", "FREESEEK_IDLE_TIMEOUT": "1",
                              "FREESEEK_PRECOMMIT_SECONDS": "30", "FREESEEK_QUEUE_TIMEOUT": "30"},
                      "providers": {"deepseek": {"base_url": faulty.url}}})
    response = chat(app.test_client(), faulty.fault("sk-silent", "stall_headers"))
    assert response.status_code == 504
    message = response.json["error"]["message"]
    assert "no response within 1 s (FREESEEK_IDLE_TIMEOUT)" in message and "FIRST_CONTENT" not in message

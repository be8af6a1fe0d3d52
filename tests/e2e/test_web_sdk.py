"""The deepseek-web provider under gunicorn + gevent, driven by the openai SDK, against the fake web chat."""

from __future__ import annotations

import threading
import time

import requests

from services.prompt import flatten
from tests.e2e.conftest import openai_client

MESSAGES = [{"role": "user", "content": "hello web"}]


def sdk(gateway, key):
    return openai_client(gateway, key)


def test_stream_and_non_stream_with_reasoning(gateway, web):
    client = sdk(gateway, "e2e-web-1")
    chunks = list(client.chat.completions.create(model="deepseek-r1", messages=MESSAGES, stream=True,
                                                 stream_options={"include_usage": True}))
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    reasoning = "".join((c.choices[0].delta.model_extra or {}).get("reasoning_content") or ""
                        for c in chunks if c.choices)
    assert (content, reasoning) == ("echo: hello web", "Let me think.")
    assert chunks[-1].usage.completion_tokens_details.reasoning_tokens > 0
    whole = client.chat.completions.create(model="deepseek-chat", messages=MESSAGES)
    assert whole.choices[0].message.content == "echo: hello web" and "@" in whole.id
    assert web.violations == []


def test_conversation_id_and_automatic_continuation(gateway, web):
    client = sdk(gateway, "e2e-web-2")
    first = client.chat.completions.create(model="deepseek-chat", messages=MESSAGES)
    client.chat.completions.create(model="deepseek-chat", messages=[{"role": "user", "content": "next"}],
                                   extra_body={"conversation_id": first.id})
    assert web.completions[-1]["parent"] == web.completions[-2]["message_id"]
    history = MESSAGES + [{"role": "assistant", "content": first.choices[0].message.content},
                          {"role": "user", "content": "again"}]
    client.chat.completions.create(model="deepseek-chat", messages=history)
    last = web.completions[-1]
    assert last["prompt"] == "again" and last["session"] == first.id.split("@")[0]


def test_the_same_history_sent_twice_is_answered_twice(gateway, web):
    client = sdk(gateway, web.account("e2e-web-regen", parent_once=True))
    first = client.chat.completions.create(model="deepseek-chat", messages=MESSAGES)
    history = MESSAGES + [{"role": "assistant", "content": first.choices[0].message.content},
                          {"role": "user", "content": "once more"}]
    replies = [client.chat.completions.create(model="deepseek-chat", messages=history) for _ in range(2)]
    assert replies[0].choices[0].message.content == "echo: once more" and replies[1].choices[0].message.content
    mine = [c for c in web.completions if c["token"] == "e2e-web-regen"]
    # The second was refused the parent the first had continued, and went to a new session with the whole history.
    assert [c["parent"] for c in mine] == [None, mine[0]["message_id"], None]
    assert mine[2]["session"] != mine[0]["session"] and mine[2]["prompt"] == flatten(history)
    log = gateway.log.read_text()
    assert "answering in a new session with the whole history" in log and "once more" not in log
    assert web.violations == []


def test_dead_web_token_fails_over_to_an_api_key(gateway, web, fake):
    web.account("e2e-web-dead", state="dead")
    reply = sdk(gateway, "e2e-web-dead,sk-e2e-after-web").chat.completions.create(model="deepseek-chat",
                                                                                   messages=MESSAGES)
    assert reply.choices[0].message.content == "echo: hello web"
    assert "sk-e2e-after-web" in fake.keys_used()


def test_two_requests_on_one_account_take_turns(gateway, web):
    web.account("e2e-web-turns", text=["a "] * 5, pace=0.05)
    results = []

    def ask():
        chunks = sdk(gateway, "e2e-web-turns").chat.completions.create(model="deepseek-chat", messages=MESSAGES,
                                                                       stream=True)
        results.append("".join(c.choices[0].delta.content or "" for c in chunks))
    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results == ["a " * 5] * 2 and web.violations == []


def test_client_leaving_sends_stop_stream(gateway, web):
    web.stopped.clear()
    web.account("e2e-web-leave", text=["tick "] * 400, pace=0.02)
    response = requests.post(gateway.url + "/v1/chat/completions", stream=True, timeout=30,
                             json={"model": "deepseek-chat", "messages": MESSAGES, "stream": True},
                             headers={"Authorization": "Bearer e2e-web-leave"})
    for chunk in response.iter_content(chunk_size=None):
        if b"tick" in chunk:
            break
    response.close()
    assert web.stopped.wait(10) and web.stops[-1]["message_id"] == web.completions[-1]["message_id"]


def test_a_long_proof_of_work_does_not_hold_up_other_streams(gateway, web, fake):
    fake.script("sk-e2e-ticker", text=["t"] * 60, pace=0.05)
    web.difficulty, web.pow_answer = 3_000_000, 2_999_999
    try:
        arrivals = []
        ticker = requests.post(gateway.url + "/v1/chat/completions", stream=True, timeout=60,
                               json={"model": "deepseek-chat", "messages": MESSAGES, "stream": True},
                               headers={"Authorization": "Bearer sk-e2e-ticker"})
        chunks = ticker.iter_content(chunk_size=None)
        next(chunks)
        solved: list[float] = []

        def solve() -> None:
            started = time.monotonic()
            sdk(gateway, "e2e-web-pow").chat.completions.create(model="deepseek-chat", messages=MESSAGES)
            solved.append(time.monotonic() - started)
        solver = threading.Thread(target=solve)
        solver.start()
        for _ in chunks:
            arrivals.append(time.monotonic())
        solver.join(60)
    finally:
        web.difficulty, web.pow_answer = 1500, None
    assert any(c["token"] == "e2e-web-pow" for c in web.completions)  # the solve happened meanwhile
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    # A solve on the event loop would stall the stream for about the whole solve; a loaded machine slows the
    # ticker too, but not by half of what the solve took.
    assert max(gaps) < max(0.5, solved[0] / 2), \
        f"a stream stalled for {max(gaps):.2f} s during a proof-of-work solve of {solved[0]:.2f} s"


def test_counting_a_big_prompt_does_not_hold_up_other_streams(gateway, fake):
    # The counter is pure Python and holds the GIL: it must pause between slices on the hub instead.
    fake.script("sk-e2e-count-ticker", text=["t"] * 60, pace=0.05)
    # About 1 MB, the most count_tokens counts by default (FREESEEK_COUNT_TOKENS_MAX_BYTES).
    prompt = (" ".join(f"word{i % 997} {'中文' * (i % 3)} <think> x={i};" for i in range(200_000)))[:900_000]
    arrivals, counted = [], []
    ticker = requests.post(gateway.url + "/v1/chat/completions", stream=True, timeout=60,
                           json={"model": "deepseek-chat", "messages": MESSAGES, "stream": True},
                           headers={"Authorization": "Bearer sk-e2e-count-ticker"})
    chunks = ticker.iter_content(chunk_size=None)
    next(chunks)
    took: list[float] = []

    def count() -> None:
        started = time.monotonic()
        counted.append(requests.post(
            gateway.url + "/v1/messages/count_tokens", timeout=60, headers={"x-api-key": "sk-e2e-count"},
            json={"model": "claude-haiku-4-5", "messages": [{"role": "user", "content": prompt}]}).json())
        took.append(time.monotonic() - started)
    counter = threading.Thread(target=count)
    counter.start()
    for _ in chunks:
        arrivals.append(time.monotonic())
    counter.join(60)
    assert counted and counted[0]["input_tokens"] > 300_000
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    # Counting without pauses would stall the stream for about the whole count (see the solve above).
    assert max(gaps) < max(0.5, took[0] / 2), \
        f"a stream stalled for {max(gaps):.2f} s while a big prompt was counted in {took[0]:.2f} s"

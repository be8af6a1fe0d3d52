"""Several gunicorn workers and two gateway processes over one real Redis act as one gateway."""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests


MESSAGES = [{"role": "user", "content": "hello shared"}]



@pytest.fixture(scope="module")
def shared_env(redis_live):
    return {"FREESEEK_REDIS_URL": redis_live.url, "WEB_CONCURRENCY": "2", "FREESEEK_QUEUE_TIMEOUT": "40",
            # No platform's first-byte limit here: twenty answers in a row on one account may outlast 20 s.
            "FREESEEK_PRECOMMIT_SECONDS": "40",
            "FREESEEK_REDIS_LEASE_SECONDS": "2", "FREESEEK_WEB_DELETE_SESSIONS": "false"}


@pytest.fixture(scope="module")
def pair(start_gateway, shared_env):
    """Two gateway processes of two workers each, on two ports, over one Redis."""
    return start_gateway(**shared_env), start_gateway(**shared_env)


def chat(gateway, token: str, messages=MESSAGES, stream: bool = False, timeout: float = 60) -> requests.Response:
    return requests.post(gateway.url + "/v1/chat/completions", headers={"Authorization": f"Bearer {token}"},
                         json={"model": "deepseek-chat", "messages": messages, "stream": stream},
                         timeout=timeout, stream=stream)


def test_twenty_concurrent_requests_on_one_account_never_overlap(pair, web):
    web.account("shared-one", text=["a ", "b ", "c "], pace=0.02)
    with ThreadPoolExecutor(20) as executor:
        replies = list(executor.map(lambda i: chat(pair[i % 2], "shared-one"), range(20)))
    assert [r.status_code for r in replies] == [200] * 20
    assert {r.json()["choices"][0]["message"]["content"] for r in replies} == {"a b c "}
    assert web.violations == []


def test_a_resent_history_continues_from_the_other_process(pair, web):
    first = chat(pair[0], "shared-continue").json()
    history = MESSAGES + [{"role": "assistant", "content": first["choices"][0]["message"]["content"]},
                          {"role": "user", "content": "again"}]
    for _ in range(3):  # whichever worker of the other process answers
        assert chat(pair[1], "shared-continue", history).status_code == 200
        last = web.completions[-1]
        assert last["prompt"] == "again" and last["session"] == first["id"].split("@")[0]
    reply = chat(pair[1], "shared-continue", [{"role": "user", "content": "native"}])
    assert reply.status_code == 200
    named = requests.post(pair[1].url + "/v1/chat/completions", headers={"Authorization": "Bearer shared-continue"},
                          json={"model": "deepseek-chat", "messages": [{"role": "user", "content": "by id"}],
                                "conversation_id": first["id"]}, timeout=30)
    assert named.status_code == 200 and web.completions[-1]["parent"] == int(first["id"].split("@")[1])


def _worker_pids(master: int) -> list[int]:
    with open(f"/proc/{master}/task/{master}/children") as children:
        return [int(pid) for pid in children.read().split()]


def test_a_worker_killed_mid_answer_frees_its_account_within_seconds(start_gateway, shared_env, pair, web):
    lonely = start_gateway(**{**shared_env, "WEB_CONCURRENCY": "1"})
    web.account("shared-kill", text=["x "] * 40, pace=0.25)
    stream = chat(lonely, "shared-kill", stream=True)
    assert next(stream.iter_lines())  # the answer is under way, the account leased
    for pid in _worker_pids(lonely.process.pid):
        os.kill(pid, signal.SIGKILL)
    started = time.monotonic()
    reply = chat(pair[0], "shared-kill")
    assert reply.status_code == 200 and "x x" in reply.json()["choices"][0]["message"]["content"]
    assert time.monotonic() - started < 2 + 10 + 5  # lease time, the rest of the answer, slack
    assert web.violations == []


def test_redis_gone_is_a_503_and_a_restart_never_doubles_an_answer(pair, web, redis_live):
    web.account("shared-restart", text=["r "] * 16, pace=0.25)
    stream = chat(pair[0], "shared-restart", stream=True)
    lines = stream.iter_lines()
    assert next(lines)
    redis_live.stop()
    started = time.monotonic()
    refused = chat(pair[1], "shared-restart")
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "store_unavailable"
    assert time.monotonic() - started < 8
    redis_live.start()  # empty: the streaming holder must reassert its lease before anyone gets the account
    second = []
    waiter = threading.Thread(target=lambda: second.append(chat(pair[1], "shared-restart")))
    waiter.start()
    body = b"".join(lines)
    waiter.join()
    assert b"[DONE]" in body and body.count(b"r ") >= 10
    assert second[0].status_code == 200
    assert web.violations == []


def test_sigterm_lets_a_short_answer_finish_and_cancels_a_long_one(start_gateway, shared_env, pair, web):
    draining = start_gateway(**{**shared_env, "WEB_CONCURRENCY": "1", "GUNICORN_CMD_ARGS": "--graceful-timeout 8"})
    web.account("shared-short", text=["s "] * 6, pace=0.25)
    web.account("shared-long", text=["l "] * 200, pace=0.25)
    short = chat(draining, "shared-short", stream=True)
    long = chat(draining, "shared-long", stream=True)
    short_lines, long_lines = short.iter_lines(), long.iter_lines()
    assert next(short_lines) and next(long_lines)
    stops_before = len(web.stops)
    draining.process.send_signal(signal.SIGTERM)
    assert b"[DONE]" in b"".join(short_lines)
    started = time.monotonic()
    cut = b"".join(long_lines)  # cancelled upstream before the platform's kill
    assert time.monotonic() - started < 6 and cut.count(b"l ") < 100
    assert draining.process.wait(timeout=10) == 0
    assert any(stop["token"] == "shared-long" for stop in web.stops[stops_before:])
    web.account("shared-free", text=["free"])
    started = time.monotonic()
    assert chat(pair[0], "shared-free").status_code == 200
    answer = time.monotonic() - started  # what one answer on a free account takes on this machine now
    web.account("shared-long", text=["free"])
    started = time.monotonic()
    assert chat(pair[0], "shared-long").status_code == 200
    # Released, not left to expire (FREESEEK_REDIS_LEASE_SECONDS is 2): no more than a free account's answer.
    assert time.monotonic() - started < 2 * answer + 1.5
    assert web.violations == []


def test_without_redis_one_worker_runs_whatever_web_concurrency_says(start_gateway):
    alone = start_gateway(WEB_CONCURRENCY="3")
    deadline = time.monotonic() + 10
    while len(_worker_pids(alone.process.pid)) != 1 and time.monotonic() < deadline:
        time.sleep(0.1)  # workers boot one by one: nothing to wait on
    assert len(_worker_pids(alone.process.pid)) == 1
    log = alone.log.read_text()
    assert "WEB_CONCURRENCY=3 asks for 3 workers; running 1" in log and "shared state in memory" in log

"""Hardening under gunicorn + gevent: cold workers, big headers, clients that leave, upstreams that misbehave."""

from __future__ import annotations

import threading

import requests

MESSAGES = [{"role": "user", "content": "hello"}]


def ask(gateway, token: str, timeout: float = 30, **body) -> requests.Response:
    return requests.post(gateway.url + "/v1/chat/completions", timeout=timeout,
                         json={"model": "deepseek-chat", "messages": MESSAGES, **body},
                         headers={"Authorization": f"Bearer {token}", "Connection": "close"})


def test_six_concurrent_first_web_requests_to_a_cold_worker_all_answer(start_gateway, web):
    gateway = start_gateway()  # a fresh worker: the proof-of-work kernel has never run in it
    results: dict[int, int | str] = {}

    def first_request(i: int) -> None:
        try:
            results[i] = ask(gateway, f"cold-web-{i}", timeout=20).status_code
        except requests.RequestException as exc:
            results[i] = type(exc).__name__
    threads = [threading.Thread(target=first_request, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == {i: 200 for i in range(6)}
    assert web.violations == []


def test_a_header_of_eight_hundred_tokens_is_accepted(gateway, fake):
    keys = ",".join(f"sk-many-{i:04d}-0123456789abcdef0123" for i in range(800))
    assert len(keys) > 8190 * 3
    response = ask(gateway, keys)
    assert response.status_code == 200, response.text[:200]
    assert response.json()["choices"][0]["message"]["content"] == "echo: hello"

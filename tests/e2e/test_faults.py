"""Upstream faults under gunicorn + gevent: every mode gets a clean answer, no account stays stuck, no descriptor
leaks (the worker's open fds are counted before and after)."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import E2E_ENV, GatewayProcess
from tests.fakes.faulty_upstream import FaultyUpstream, wait_until

# mode -> (statuses the client may get, a word its body holds)
EXPECTED = {
    "reset": ({502}, "could not connect"),
    "stall_headers": ({504}, "FREESEEK_FIRST_CONTENT_TIMEOUT"),
    # The deadline and the socket's read timeout (the same 8 s here) race: either is a clean error.
    "stall_body": ({502, 504}, "deepseek"),
    "drip": ({200}, "fine"),
    "malformed_sse": ({502}, "malformed"),
    "storm_429": ({200}, "fine"),         # two 429s with Retry-After: 1, waited out within the queue timeout
    "html_200": ({502}, "ended before the answer was complete"),
    "gzip": ({200}, "fine"),
    "huge_line": ({200}, "xxxxxxxx"),
}
OPTIONS = {"drip": {"interval": 0.002}, "storm_429": {"count": 2, "retry_after": 1}}


@pytest.fixture(scope="module")
def faulty():
    with FaultyUpstream() as server:
        yield server


@pytest.fixture(scope="module")
def fault_gateway(faulty, tmp_path_factory):
    # One answer at a time per key: a lease that leaked would make the follow-up request wait and fail.
    toml = f'[providers.deepseek]\nbase_url = "{faulty.url}"\nconcurrency = 1\n'
    # Deadlines far above what a loaded machine needs for the modes that answer (the drip's few hundred
    # wake-ups before its first content, a 5 MB line), so only the stalling modes meet them.
    env = {**E2E_ENV, "FREESEEK_FIRST_CONTENT_TIMEOUT": "8", "FREESEEK_IDLE_TIMEOUT": "8",
           # The 429 storm's two 1 s cooldowns and three tries must fit in the queue's wait on a slow machine too.
           "FREESEEK_QUEUE_TIMEOUT": "15", "FREESEEK_FIRST_HEARTBEAT_SECONDS": "30"}
    gateway = GatewayProcess(tmp_path_factory.mktemp("faults"), env, toml)
    yield gateway
    gateway.stop()


def worker_fds(gateway: GatewayProcess) -> int:
    """Open descriptors of the gateway's (single) worker process."""
    master = gateway.process.pid
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    assert len(children) == 1, children
    return len(os.listdir(f"/proc/{children[0]}/fd"))


def ask(gateway, token: str) -> requests.Response:
    return requests.post(gateway.url + "/v1/chat/completions", timeout=30,
                         json={"model": "deepseek-chat", "messages": [{"role": "user", "content": "hi"}]},
                         headers={"Authorization": f"Bearer {token}", "Connection": "close"})


def in_parallel(calls: dict) -> dict:
    """Run named calls in threads at once; return their results by name."""
    results: dict = {}

    def run(name, call):
        try:
            results[name] = call()
        except requests.RequestException as exc:
            results[name] = exc
    threads = [threading.Thread(target=run, args=item) for item in calls.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(40)
    return results


def run_every_mode(gateway, faulty, round_name: str) -> None:
    """Every mode at once, each on its own account; then each account again, now answering normally."""
    tokens = {mode: faulty.fault(f"sk-{round_name}-{mode}", mode, **OPTIONS.get(mode, {})) for mode in EXPECTED}
    replies = in_parallel({mode: (lambda t=token: ask(gateway, t)) for mode, token in tokens.items()})
    for mode, (status, word) in EXPECTED.items():
        response = replies[mode]
        assert isinstance(response, requests.Response), (mode, response)
        assert response.status_code in status, (mode, response.text[:300])
        assert word in response.text, (mode, response.text[:300])
        if response.status_code != 200:
            assert set(response.json()["error"]) == {"message", "type", "param", "code"}
        faulty.fault(tokens[mode], "ok")
    # The same accounts, free again (after the short rest a fault earns): a leaked lease would end in 429.
    follow_ups = in_parallel({mode: (lambda t=token: ask(gateway, t)) for mode, token in tokens.items()})
    assert {mode: getattr(r, "status_code", r) for mode, r in follow_ups.items()} == dict.fromkeys(EXPECTED, 200)


def test_every_fault_mode_leaves_no_stuck_account_and_no_leaked_descriptor(fault_gateway, faulty):
    run_every_mode(fault_gateway, faulty, "warm")  # lazily made things (thread pool, pools) exist after this
    assert wait_until(lambda: faulty.open_connections == 0, 10)
    before = worker_fds(fault_gateway)
    run_every_mode(fault_gateway, faulty, "again")
    assert wait_until(lambda: faulty.open_connections == 0, 10), "an upstream connection is still open"
    assert wait_until(lambda: worker_fds(fault_gateway) <= before, 10), (before, worker_fds(fault_gateway))
    print(f"worker fds: {before} before, {worker_fds(fault_gateway)} after")


@pytest.mark.parametrize("stream", [True, False])
def test_a_client_that_leaves_before_the_upstream_answers_closes_it_at_once(faulty, tmp_path_factory, stream):
    """`curl -m 1` against an upstream that accepts and never answers: it must see the close within 2 s."""
    toml = f'[providers.deepseek]\nbase_url = "{faulty.url}"\n'
    env = {**E2E_ENV, "FREESEEK_FIRST_CONTENT_TIMEOUT": "60", "FREESEEK_IDLE_TIMEOUT": "60"}
    gateway = GatewayProcess(tmp_path_factory.mktemp("leave"), env, toml)
    try:
        token = faulty.fault(f"sk-leaves-{stream}", "stall_headers")
        body = json.dumps({"model": "deepseek-chat", "stream": stream,
                           "messages": [{"role": "user", "content": "hi"}]}).encode()
        client = socket.create_connection(("127.0.0.1", gateway.port))
        client.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       b"Authorization: Bearer " + token.encode() + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        assert faulty.received[token].wait(10)
        client.close()
        left = time.monotonic()
        # Noticed within about a second; 10 s leaves a loaded machine room (without the check: 60 s).
        assert faulty.hung_up[token].wait(10), "the upstream still held the connection 10 s after the client left"
        print(f"stream={stream}: the upstream saw the close {time.monotonic() - left:.2f} s after the client left")
    finally:
        gateway.stop()

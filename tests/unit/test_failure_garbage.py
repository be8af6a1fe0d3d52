"""A failed upstream call leaves no cyclic garbage once its request is over (docs/serving.md, "The cyclic
collector"): the serving worker raises the collector's thresholds, so garbage that only the collector frees
would pile up between its passes. Each kind of failure is sent 500 times through the app (its WSGI callable,
as a server calls it) to real fakes on loopback, which run in a process of their own so that only the
gateway's garbage is counted; every object the collector then finds unreachable is counted."""

from __future__ import annotations

import collections
import gc
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from werkzeug.test import EnvironBuilder

from app import create_app
from tests.conftest import FAST_ENV, provider_overrides
from tests.fakes.failing_upstreams import FailingUpstreams

REQUESTS = 500
# kind -> (gateway, key prefix, stream, the status every request gets)
KINDS = {
    "api-refused": ("dead", "sk-refused", False, 502),
    "api-reset": ("faulty", "sk-reset", False, 502),
    "api-timeout": ("stalling", "sk-stall", False, 504),
    "api-aborted-opening": ("impatient", "sk-stall", False, 504),  # a deadline aborts the wait for headers
    "api-5xx": ("api", "sk-5xx", False, 502),
    "api-inband-error": ("api", "sk-inband", False, 502),
    "api-inband-error-stream": ("api", "sk-inband", True, 200),   # the error goes out in-band
    "web-refused": ("dead", "web-refused", False, 502),
    "web-overloaded": ("api", "web-overloaded", False, 503),
    "web-cut": ("api", "web-cut", True, 502),     # cut before the answer started: failed over
    "success": ("api", "sk-ok", True, 200),   # the control: an answer leaves none either
}
# Many at once where each waits for its read timeout, so the 500 take seconds, not minutes.
WORKERS = {"api-timeout": 50, "api-aborted-opening": 250}


def closed_port_url() -> str:
    """A loopback URL nothing listens on: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture(scope="module")
def gateways():
    """Gateway apps on the fakes (in their own process) and on a port where nothing listens."""
    dead = closed_port_url()
    patient = {"FREESEEK_FIRST_CONTENT_TIMEOUT": "30", "FREESEEK_IDLE_TIMEOUT": "30"}  # a loaded machine's fakes
    with FailingUpstreams() as up:
        urls = up.urls
        built = {"api": (urls["api"], urls["web"], patient), "faulty": (urls["faulty"], dead, patient),
                 "stalling": (urls["faulty"], dead, {"FREESEEK_FIRST_CONTENT_TIMEOUT": "0.2"}),
                 # The pre-commit budget is spent long before the read timeout: the relay's first deadline
                 # check (after 1 s) aborts the attempt while its opener still waits for headers.
                 "impatient": (urls["faulty"], dead, {**patient, "FREESEEK_PRECOMMIT_SECONDS": "0.05"}),
                 "dead": (dead + "/v1", dead, {})}
        yield {name: create_app({"env": {**FAST_ENV, **env}, "providers": provider_overrides(api, web)})
               for name, (api, web, env) in built.items()}


def send(app, key: str, stream: bool) -> int:
    """One chat request through the app's WSGI callable, its body read to the end; returns the status."""
    body = {"model": "deepseek-chat", "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    builder = EnvironBuilder(path="/v1/chat/completions", method="POST", json=body,
                             headers={"Authorization": f"Bearer {key}"})
    statuses = []
    try:
        response = app(builder.get_environ(), lambda status, headers, exc_info=None: statuses.append(status))
        try:
            b"".join(response)
        finally:
            response.close()
    finally:
        builder.close()
    return int(statuses[0].split()[0])


def unreachable_after(work) -> list:
    """Run work; return every object the cyclic collector finds unreachable once it is done."""
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)  # the collector keeps what it would free in gc.garbage
    try:
        work()
        gc.collect()
    finally:
        gc.set_debug(0)
    found = list(gc.garbage)
    gc.garbage.clear()
    return found


def summary(objects: list) -> str:
    """The commonest types among the objects, to tell what leaked."""
    return ", ".join(f"{n} {name}" for name, n in collections.Counter(type(o).__name__ for o in objects).most_common(8))


@pytest.mark.parametrize("kind", KINDS)
def test_failed_upstream_calls_leave_no_cyclic_garbage(gateways, kind):
    gateway, prefix, stream, expected = KINDS[kind]
    app, tag = gateways[gateway], kind.replace("-", "")  # keys of their own: a failed one rests a while
    assert send(app, f"{prefix}-{tag}warm", stream) == expected  # what lives on is built (pools, caches)
    started = set(threading.enumerate())
    statuses = collections.Counter()

    def run() -> None:
        with ThreadPoolExecutor(WORKERS.get(kind, 16)) as pool:
            statuses.update(pool.map(lambda i: send(app, f"{prefix}-{tag}{i}", stream), range(REQUESTS)))
        for thread in set(threading.enumerate()) - started:
            thread.join(30)  # the requests' own background work (a web session's clean-up) is over too

    garbage = unreachable_after(run)
    assert statuses == {expected: REQUESTS}
    assert len(garbage) < REQUESTS, f"{len(garbage)} objects in cycles after {REQUESTS} requests: {summary(garbage)}"

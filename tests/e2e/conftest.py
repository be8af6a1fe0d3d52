"""Start `gunicorn wsgi:app` with gevent workers as a subprocess, pointed at a fake upstream."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import openai
import pytest
import requests

from tests.conftest import API_PROVIDERS, NO_PACE
from tests.fakes.deepseek_web import FakeWebChat
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class GatewayProcess:
    """A gunicorn gateway on a loopback port; `url` is its root."""

    def __init__(self, tmp: Path, env: dict, providers_toml: str):
        providers = tmp / f"providers-{time.monotonic_ns()}.toml"
        providers.write_text(providers_toml)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / f"gunicorn-{self.port}.log"
        full_env = {**os.environ, "FREESEEK_PROVIDERS_FILE": str(providers), **env}
        full_env.pop("PORT", None)
        self._log_file = self.log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"),
             "-b", f"127.0.0.1:{self.port}", "wsgi:app"],
            cwd=ROOT, env=full_env, stdout=self._log_file, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.log.read_text()}")
            try:
                if requests.get(self.url + "/ping", timeout=1).text == "pong":
                    return
            except requests.RequestException:  # not listening yet, or a worker still booting on a busy machine
                time.sleep(0.05)  # polling a port that is not open yet: there is no event to wait on
        self.stop()
        raise RuntimeError(f"gunicorn did not start: {self.log.read_text()}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=25)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log_file.close()


def providers_toml(url: str, web_url: str) -> str:
    """Every provider on a fake: the API ones on the OpenAI fake, deepseek-web on the web chat fake."""
    tables = [f'[providers.{name}]\nbase_url = "{url}"\ncheck_url = "/models"\n' for name in API_PROVIDERS]
    tables.append(f'[providers.deepseek-web]\nbase_url = "{web_url}"\n')
    return "\n".join(tables)


E2E_ENV = {"FREESEEK_FIRST_HEARTBEAT_SECONDS": "0.5", "FREESEEK_HEARTBEAT_SECONDS": "0.5",
           "FREESEEK_FIRST_CONTENT_TIMEOUT": "10", "FREESEEK_IDLE_TIMEOUT": "5", "FREESEEK_QUEUE_TIMEOUT": "3",
           "WEB_CONCURRENCY": "1", **NO_PACE}


@pytest.fixture(scope="module")
def fake():
    with FakeOpenAI() as server:
        yield server


@pytest.fixture(scope="module")
def web():
    with FakeWebChat() as server:
        yield server


@pytest.fixture(scope="module")
def start_gateway(fake, web, tmp_path_factory):
    """Start a gateway with extra environment variables; all are stopped after the module."""
    started = []

    def start(**env) -> GatewayProcess:
        gateway = GatewayProcess(tmp_path_factory.mktemp("gw"), {**E2E_ENV, **env}, providers_toml(fake.url, web.url))
        started.append(gateway)
        return gateway
    yield start
    for gateway in started:
        gateway.stop()


@pytest.fixture(scope="module")
def gateway(start_gateway):
    return start_gateway()


_clients: list = []


def closed_later(client):
    """Keep an SDK client to close after its module (an unclosed one leaks its socket into a later test)."""
    _clients.append(client)
    return client


def openai_client(gateway: GatewayProcess, key: str, timeout: float = 60) -> openai.OpenAI:
    """An openai SDK client for a gateway, closed after its module."""
    return closed_later(openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0, timeout=timeout))


@pytest.fixture(autouse=True, scope="module")
def _close_sdk_clients():
    yield
    while _clients:
        _clients.pop().close()


@pytest.fixture(scope="module")
def redis_live():
    """A module's own redis-server (a test may restart it), known empty: no first-start wait of a lease time."""
    server = RedisServer()
    server.mark_fresh()
    yield server
    server.stop()

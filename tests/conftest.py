"""Fixtures: a fake upstream on loopback and a gateway app pointed at it."""

from __future__ import annotations

import pytest

from app import create_app
from tests.fakes.deepseek_web import FakeWebChat
from tests.fakes.openai_upstream import FakeOpenAI

API_PROVIDERS = ("deepseek", "siliconflow", "gitee", "qiniu", "huggingface", "github", "ollama")

# Account care off: tests of other things send answers back to back (tests/unit/test_pacing.py turns it on).
NO_PACE = {"FREESEEK_WEB_MIN_GAP_SECONDS": "0", "FREESEEK_WEB_GAP_JITTER_SECONDS": "0",
           "FREESEEK_WEB_HOURLY_BUDGET": "0", "FREESEEK_WEB_DAILY_BUDGET": "0", "FREESEEK_WEB_DELETE_GAP_SECONDS": "0",
           "FREESEEK_WEB_CONTINUE_PAUSE": "1"}

# Small timings so tests of keep-alives and deadlines finish quickly.
FAST_ENV = {"FREESEEK_FIRST_HEARTBEAT_SECONDS": "1", "FREESEEK_HEARTBEAT_SECONDS": "0.5",
            "FREESEEK_CONNECT_TIMEOUT": "2", "FREESEEK_FIRST_CONTENT_TIMEOUT": "5",
            "FREESEEK_IDLE_TIMEOUT": "5", "FREESEEK_QUEUE_TIMEOUT": "3", **NO_PACE}


def provider_overrides(url: str, web_url: str) -> dict:
    """Point every API provider at the fake (key checks too), and deepseek-web at the fake web chat."""
    return {**{name: {"base_url": url, "check_url": "/models"} for name in API_PROVIDERS},
            "deepseek-web": {"base_url": web_url}}


@pytest.fixture
def fake():
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def web():
    with FakeWebChat() as server:
        yield server


@pytest.fixture
def make_app(fake, web):
    """Build a gateway app on the fakes, with extra environment variables."""
    def build(**env):
        app = create_app({"env": {**FAST_ENV, **env}, "providers": provider_overrides(fake.url, web.url)})
        # Among equally busy tokens, take them in the request's order so tests are deterministic.
        app.extensions["freeseek"].pool.choose = lambda tokens: tokens[0]
        return app
    return build


@pytest.fixture
def client(make_app):
    return make_app().test_client()


@pytest.fixture(scope="session")
def redis_server():
    """A real redis-server for the whole run (skipped without the binary, failed under CI)."""
    from tests.fakes.redis_server import RedisServer
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture(params=["memory", "redis"])
def state(request):
    """The state factory on each backend, with short idle and lease times."""
    from services.settings import Settings
    from services.store.state import SharedState
    env = {"FREESEEK_WEB_SESSION_IDLE_SECONDS": "0.3", "FREESEEK_REDIS_LEASE_SECONDS": "1"}
    if request.param == "redis":
        env["FREESEEK_REDIS_URL"] = request.getfixturevalue("redis_url")
    settings = Settings.from_env(env)
    if request.param == "memory":
        return SharedState(settings)
    from services.store.redis import connect
    return SharedState(settings, connect(settings.redis_url))


@pytest.fixture
def redis_url(redis_server):
    """The test's Redis, emptied first, and known to hold no slot (a real first start waits a lease time); every
    script the test sends must keep its keys in one Redis Cluster slot (hash tags), so it also runs on a cluster."""
    from tests.fakes.redis_calls import watching
    redis_server.flush()
    redis_server.mark_fresh()
    with watching() as calls:
        yield redis_server.url
    assert not calls.cross_slot, f"scripts whose keys span Redis Cluster slots: {calls.cross_slot[:3]}"

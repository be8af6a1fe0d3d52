"""Per-token state is kept under a full-length keyed hash: tokens whose short display refs collide stay apart."""

from __future__ import annotations

import itertools

import pytest

from services.credentials import Token
from services.errors import RateLimited, Unauthorized
from services.settings import Settings
from services.store.state import SharedState

LONG_SECRET = "a-state-secret-of-the-operator-0123456789"


def twins(provider: str, stem: str = "sk-") -> tuple[Token, Token]:
    """Two different tokens whose 24-bit display refs collide (a birthday search: a few thousand tries)."""
    seen: dict[str, Token] = {}
    for i in itertools.count():
        token = Token(provider, f"{stem}{i}")
        if token.ref in seen:
            return seen[token.ref], token
        seen[token.ref] = token


def _rejected() -> Unauthorized:
    error = Unauthorized("deepseek-web rejected the token")
    error.token_state = "dead"
    return error


def test_a_rejected_token_does_not_rest_another_that_shares_its_ref(state):
    dead, victim = twins("deepseek-web")
    assert dead.ref == victim.ref and dead != victim
    pool = state.pool(lambda token: 1)
    pool.report_failure(dead, _rejected())
    assert pool.view([dead])[0]["state"] == "dead"
    assert pool.rest_left(victim) == 0 and pool.view([victim])[0]["state"] == "ok"
    pool.acquire([victim], timeout=0.2).release()


def test_a_lease_on_one_token_does_not_hold_another_that_shares_its_ref(state):
    holder, other = twins("deepseek-web")
    pool = state.pool(lambda token: 1)
    lease = pool.acquire([holder], timeout=1)
    try:
        pool.acquire([other], timeout=0.3).release()   # the account is not the holder's: no wait
        with pytest.raises(RateLimited):
            pool.acquire([holder], timeout=0.3)
    finally:
        lease.release()


def test_two_instances_sharing_a_redis_derive_the_same_keys(redis_url):
    from services.store.redis import connect
    settings = Settings.from_env({"FREESEEK_REDIS_URL": redis_url})
    one, two = (SharedState(settings, connect(redis_url)) for _ in range(2))
    token = Token("deepseek-web", "secret-a")
    key = one.keys.token(token)
    assert key == two.keys.token(token) and len(key) == 64 and token.ref[4:] not in key
    assert one.keys.caller("digest") == two.keys.caller("digest") != key
    one.pool(lambda t: 1).report_failure(token, _rejected())
    assert two.pool(lambda t: 1).view([token])[0]["state"] == "dead"   # health is found under the same key


def test_a_configured_secret_gives_the_same_keys_in_every_process_and_another_secret_others():
    token = Token("deepseek", "sk-1")
    same = [SharedState(Settings.from_env({"FREESEEK_STATE_SECRET": LONG_SECRET})).keys.token(token)
            for _ in range(2)]
    other = SharedState(Settings.from_env({"FREESEEK_STATE_SECRET": LONG_SECRET + "x"})).keys.token(token)
    assert same[0] == same[1] != other


def test_workers_agree_again_after_redis_lost_the_generated_secret(redis_server, redis_url):
    from services.store.redis import connect
    settings = Settings.from_env({"FREESEEK_REDIS_URL": redis_url, "FREESEEK_REDIS_LEASE_SECONDS": "1"})
    old = SharedState(settings, connect(redis_url))
    token = Token("deepseek-web", "secret-a")
    old.keys.token(token)
    redis_server.flush()   # Redis without persistence restarted: the secret is gone
    new = SharedState(settings, connect(redis_url))
    new_pool = new.pool(lambda t: 1)
    lease = new_pool.acquire([token], timeout=10)   # the new worker generated and keeps another secret
    try:
        with pytest.raises(RateLimited):
            old.pool(lambda t: 1).acquire([token], timeout=1.5)   # the old one re-derived its keys and waits
        assert old.keys.token(token) == new.keys.token(token)
    finally:
        lease.release()


def test_a_rejected_token_over_http_leaves_its_ref_twin_usable(make_app, fake, redis_url):
    dead, victim = twins("deepseek", "sk-twin-")
    fake.script(dead.secret, status=401, error_body={"error": {"message": "bad key"}})
    for app in (make_app(), make_app(FREESEEK_REDIS_URL=redis_url)):
        client = app.test_client()

        def chat(token: Token):
            return client.post("/v1/chat/completions", json={"model": "deepseek-chat", "messages": [
                {"role": "user", "content": "hi"}]}, headers={"Authorization": f"Bearer deepseek:{token.secret}"})
        assert chat(dead).status_code == 401
        answer = chat(victim)
        assert answer.status_code == 200, answer.json
        assert fake.keys_used()[-1] == victim.secret


def test_two_apps_sharing_a_redis_find_each_others_health_and_stored_responses(make_app, fake, redis_url):
    one, two = (make_app(FREESEEK_REDIS_URL=redis_url).test_client() for _ in range(2))
    dead = fake.script("sk-shared-dead", status=401, error_body={"error": {"message": "bad key"}})

    def respond(client, key: str, **body):
        return client.post("/v1/responses", json={"model": "deepseek-chat", "input": "hi", **body},
                           headers={"Authorization": f"Bearer {key}"})
    assert respond(one, dead).status_code == 401
    asked = len(fake.keys_used())
    assert respond(two, dead).status_code == 401 and len(fake.keys_used()) == asked   # known dead: not sent
    first = respond(one, "sk-shared-alive")
    assert first.status_code == 200
    follow = respond(two, "sk-shared-alive", input="go on", previous_response_id=first.json["id"])
    assert follow.status_code == 200, follow.json
    assert respond(two, "sk-shared-other", previous_response_id=first.json["id"]).status_code == 404


def test_a_lease_held_when_redis_lost_its_secret_moves_to_the_keys_of_the_new_one(redis_server, redis_url):
    from services.store.keys import REDIS_SECRET_KEY
    from services.store.redis import connect
    settings = Settings.from_env({"FREESEEK_REDIS_URL": redis_url, "FREESEEK_REDIS_LEASE_SECONDS": "1"})
    token = Token("deepseek-web", "secret-a")
    old, new = (SharedState(settings, connect(redis_url)).pool(lambda t: 1) for _ in range(2))
    lease = old.acquire([token], timeout=1)   # an answer streams on the account
    try:
        redis_server.flush()   # Redis without persistence restarted...
        connect(redis_url).set(REDIS_SECRET_KEY, "b" * 64)   # ...and another worker generated a new secret first
        with pytest.raises(RateLimited):
            new.acquire([token], timeout=3).release()   # never a second answer on the account
    finally:
        lease.release()
    new.acquire([token], timeout=10).release()


def test_a_process_started_after_redis_lost_its_data_grants_no_slot_a_holder_may_still_stream(redis_server,
                                                                                                 redis_url):
    from services.store.redis import connect
    settings = Settings.from_env({"FREESEEK_REDIS_URL": redis_url, "FREESEEK_REDIS_LEASE_SECONDS": "30",
                                  "FREESEEK_STATE_SECRET": LONG_SECRET})
    token = Token("deepseek-web", "secret-a")
    lease = SharedState(settings, connect(redis_url)).pool(lambda t: 1).acquire([token], timeout=1)
    try:
        redis_server.flush()   # Redis lost its data while the answer streams (the holder renews every 10 s)
        started_after = SharedState(settings, connect(redis_url)).pool(lambda t: 1)   # a new worker or instance
        with pytest.raises(RateLimited, match="busy"):
            started_after.acquire([token], timeout=0.5).release()   # never a second answer on the account
    finally:
        lease.release()

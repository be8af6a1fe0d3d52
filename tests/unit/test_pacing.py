"""Account care for web accounts: a person's pace per account, budgets shared by every worker, mutes remembered."""

from __future__ import annotations

import threading
import time

import pytest

from app import create_app
from services.credentials import parse_tokens
from tests.conftest import FAST_ENV, NO_PACE, provider_overrides
from tests.fakes.faulty_upstream import wait_until

PACE = {"FREESEEK_WEB_MIN_GAP_SECONDS": "0.1", "FREESEEK_WEB_GAP_JITTER_SECONDS": "0.05",
        "FREESEEK_WEB_HOURLY_BUDGET": "0", "FREESEEK_WEB_DAILY_BUDGET": "0"}


def build(fake, web, **env):
    """A gateway on the fakes with account care on (FAST_ENV turns it off for the other tests)."""
    fast = {name: value for name, value in FAST_ENV.items() if name not in NO_PACE}
    app = create_app({"env": {**fast, **PACE, **env}, "providers": provider_overrides(fake.url, web.url)})
    app.extensions["freeseek"].pool.choose = lambda tokens: tokens[0]
    return app


def chat(client, tokens: str, content: str = "hi there"):
    return client.post("/v1/chat/completions", json={"model": "deepseek-chat", "messages": [
        {"role": "user", "content": content}]}, headers={"Authorization": f"Bearer {tokens}"})


def answers_of(web, token: str) -> list[dict]:
    return sorted((a for a in web.answers if a["token"] == token), key=lambda a: a["start"])


def care_of(client, tokens: str) -> dict:
    rows = client.get("/pool", headers={"Authorization": f"Bearer {tokens}"}).json["tokens"]
    return rows[0]["care"]


def test_a_burst_of_50_requests_on_2_accounts_is_paced_with_a_gap_between_answers(fake, web):
    # 50 answers queue on two accounts: the wait before the status is the queue's (a loaded machine is slow).
    client = build(fake, web, FREESEEK_QUEUE_TIMEOUT="120", FREESEEK_PRECOMMIT_SECONDS="120").test_client()
    replies: list[tuple[int, str]] = []

    def ask(i: int) -> None:
        response = chat(client, "acct-a,acct-b", f"q{i}")
        body = response.json
        replies.append((response.status_code, body["choices"][0]["message"]["content"] if "choices" in body
                        else body["error"]["message"]))
    threads = [threading.Thread(target=ask, args=(i,)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert sorted(replies) == sorted((200, f"echo: q{i}") for i in range(50))
    assert web.violations == []  # never two answers at once on one account
    for token in ("acct-a", "acct-b"):
        answers = answers_of(web, token)
        assert len(answers) >= 10, f"{token} answered {len(answers)}"
        # The fake's own clock: each answer starts at least the minimum gap after the previous one ended.
        gaps = [later["start"] - earlier["end"] for earlier, later in zip(answers, answers[1:])]
        assert min(gaps) >= 0.1, gaps
    assert len(web.answers) == 50


def test_a_request_that_cannot_wait_out_the_gap_is_refused_with_the_setting_and_a_truthful_retry_after(fake, web):
    client = build(fake, web, FREESEEK_WEB_MIN_GAP_SECONDS="30", FREESEEK_WEB_GAP_JITTER_SECONDS="0").test_client()
    assert chat(client, "gap-tok").status_code == 200
    refused = chat(client, "gap-tok")  # FREESEEK_QUEUE_TIMEOUT is 3 s: the 30 s gap does not fit
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) in (29, 30)
    error = refused.json["error"]
    assert error["code"] == "account_paced"
    assert "paced" in error["message"] and "FREESEEK_WEB_MIN_GAP_SECONDS=30" in error["message"]
    assert len(answers_of(web, "gap-tok")) == 1
    # Another account is free: the request goes there instead.
    assert chat(client, "gap-tok,gap-other").status_code == 200
    assert len(answers_of(web, "gap-other")) == 1 and len(answers_of(web, "gap-tok")) == 1


def test_the_hourly_budget_refuses_the_next_answer_until_the_oldest_leaves_the_hour(fake, web):
    client = build(fake, web, FREESEEK_WEB_MIN_GAP_SECONDS="0", FREESEEK_WEB_GAP_JITTER_SECONDS="0",
                   FREESEEK_WEB_HOURLY_BUDGET="2").test_client()
    assert [chat(client, "hour-tok").status_code for _ in range(2)] == [200, 200]
    refused = chat(client, "hour-tok")
    assert refused.status_code == 429 and 3590 <= int(refused.headers["Retry-After"]) <= 3600
    assert "FREESEEK_WEB_HOURLY_BUDGET=2" in refused.json["error"]["message"]
    assert len(answers_of(web, "hour-tok")) == 2
    care = care_of(client, "hour-tok")
    assert (care["hour_left"], care["hourly_budget"], care["day_left"]) == (0, 2, None)


def test_budgets_hold_across_two_instances_sharing_redis(fake, web, redis_url):
    env = {"FREESEEK_REDIS_URL": redis_url, "FREESEEK_WEB_MIN_GAP_SECONDS": "0",
           "FREESEEK_WEB_GAP_JITTER_SECONDS": "0", "FREESEEK_WEB_DAILY_BUDGET": "3"}
    one, two = (build(fake, web, **env).test_client() for _ in range(2))
    assert [chat(one, "shared-tok").status_code, chat(two, "shared-tok").status_code,
            chat(one, "shared-tok").status_code] == [200, 200, 200]
    for client in (two, one):
        refused = chat(client, "shared-tok")
        assert refused.status_code == 429 and "FREESEEK_WEB_DAILY_BUDGET=3" in refused.json["error"]["message"]
        assert int(refused.headers["Retry-After"]) > 86000
    assert len(answers_of(web, "shared-tok")) == 3
    assert care_of(two, "shared-tok")["day_left"] == 0


def test_a_gap_started_on_one_instance_holds_on_the_other(fake, web, redis_url):
    env = {"FREESEEK_REDIS_URL": redis_url, "FREESEEK_WEB_MIN_GAP_SECONDS": "30",
           "FREESEEK_WEB_GAP_JITTER_SECONDS": "0"}
    one, two = (build(fake, web, **env).test_client() for _ in range(2))
    assert chat(one, "gap-shared").status_code == 200
    refused = chat(two, "gap-shared")
    assert refused.status_code == 429 and "FREESEEK_WEB_MIN_GAP_SECONDS" in refused.json["error"]["message"]
    assert care_of(two, "gap-shared")["next_start"] > time.time() + 25


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_a_mute_seen_by_a_token_check_stops_completions_and_shrinks_the_budgets(fake, web, request, backend):
    env = {"FREESEEK_WEB_MIN_GAP_SECONDS": "0", "FREESEEK_WEB_GAP_JITTER_SECONDS": "0",
           "FREESEEK_WEB_HOURLY_BUDGET": "4", "FREESEEK_WEB_DAILY_BUDGET": "10"}
    if backend == "redis":
        env["FREESEEK_REDIS_URL"] = request.getfixturevalue("redis_url")
    app = build(fake, web, **env)
    client = app.test_client()
    until = int(time.time()) + 7200
    web.account("mute-tok", state="muted", mute_until=until)
    assert client.post("/token/check", json={"token": "mute-tok"}).json["state"] == "muted"
    refused = chat(client, "mute-tok")
    assert refused.status_code == 403 and refused.json["error"]["code"] == "account_muted"
    # Known muted from users/current: no session, challenge or completion was sent to the account.
    assert [r["path"] for r in web.requests if r["token"] == "mute-tok"] == ["/api/v0/users/current"]
    care = care_of(client, "mute-tok")
    assert care["last_mute"]["until"] == pytest.approx(until, abs=2)
    assert (care["hourly_budget"], care["daily_budget"]) == (2, 5)  # FREESEEK_WEB_PENALTY_FACTOR 0.5
    assert care["reduced_until"] == pytest.approx(until + 7 * 86400, abs=2)
    assert care["next_start"] == pytest.approx(until, abs=2)  # not before the mute ends
    # The mute ends (on the care's clock and the fake's): the account answers, at its reduced pace.
    web.account("mute-tok")
    app.extensions["freeseek"].pool.care.wall = lambda: time.time() + 7300
    app.extensions["freeseek"].pool.mark_live(app.extensions["freeseek"].completions.tokens_for(
        "Bearer mute-tok")[0])
    assert [chat(client, "mute-tok").status_code for _ in range(3)] == [200, 200, 429]
    message = chat(client, "mute-tok").json["error"]["message"]
    assert "FREESEEK_WEB_HOURLY_BUDGET=4" in message and "FREESEEK_WEB_PENALTY_FACTOR=0.5" in message


def test_a_mute_met_by_a_completion_is_remembered_on_pool(fake, web):
    client = build(fake, web).test_client()
    web.account("refused-tok", state="muted", mute_until=int(time.time()) + 600)
    assert chat(client, "refused-tok").status_code == 403
    care = care_of(client, "refused-tok")
    assert care["last_mute"]["length"] == pytest.approx(600, abs=2) and "muted" in care["last_mute"]["cause"]
    assert "refused-tok" not in str(care)  # the short hash only, never the secret


def test_a_ban_is_remembered_and_shrinks_the_budgets(fake, web):
    client = build(fake, web, FREESEEK_WEB_DAILY_BUDGET="9", FREESEEK_WEB_PENALTY_FACTOR="0.3").test_client()
    web.account("ban-tok", state="banned")
    assert chat(client, "ban-tok").status_code == 403
    care = care_of(client, "ban-tok")
    assert care["last_ban"]["at"] == pytest.approx(time.time(), abs=30) and care["daily_budget"] == 2
    assert care["last_mute"] is None


def test_pool_shows_budget_left_and_next_start_and_api_keys_have_no_pace(fake, web):
    client = build(fake, web, FREESEEK_WEB_MIN_GAP_SECONDS="30", FREESEEK_WEB_HOURLY_BUDGET="5",
                   FREESEEK_WEB_DAILY_BUDGET="50").test_client()
    assert chat(client, "view-tok").status_code == 200
    rows = client.get("/pool", headers={"Authorization": "Bearer view-tok,sk-api-key"}).json["tokens"]
    web_row, api_row = rows
    assert web_row["state"] == "paced" and web_row["until"] == pytest.approx(web_row["care"]["next_start"])
    assert web_row["care"]["hour_left"] == 4 and web_row["care"]["day_left"] == 49
    assert web_row["care"]["next_start"] >= time.time() + 25
    assert "care" not in api_row


def test_metrics_show_budget_left_by_provider_and_by_short_hash_only_when_asked(fake, web):
    env = {"FREESEEK_WEB_HOURLY_BUDGET": "5", "FREESEEK_TOKENS": "metric-tok", "FREESEEK_API_KEYS": "k"}
    plain = build(fake, web, **env).test_client()
    assert chat(plain, "k").status_code == 200
    text = plain.get("/metrics").get_data(as_text=True)
    assert 'freeseek_pool_budget_left{provider="deepseek-web",window="hour"} 4.0' in text
    assert "freeseek_account_budget_left" not in text and "tok:" not in text
    labelled = build(fake, web, FREESEEK_METRICS_TOKEN_LABELS="1", **env)
    ref = labelled.extensions["freeseek"].server_tokens[0].ref
    assert chat(labelled.test_client(), "k").status_code == 200
    text = labelled.test_client().get("/metrics").get_data(as_text=True)
    assert f'freeseek_account_budget_left{{token="{ref}",window="hour"}} 4.0' in text
    assert "metric-tok" not in text


def test_reuse_mode_keeps_one_session_per_account_for_one_shot_requests(fake, web):
    client = build(fake, web, FREESEEK_WEB_REUSE_SESSION="1", FREESEEK_WEB_MIN_GAP_SECONDS="0",
                   FREESEEK_WEB_GAP_JITTER_SECONDS="0").test_client()
    for content in ("first", "second", "third"):
        assert chat(client, "reuse-tok", content).json["choices"][0]["message"]["content"] == f"echo: {content}"
    creates = [r for r in web.requests if r["token"] == "reuse-tok" and r["path"] == "/api/v0/chat_session/create"]
    completions = [c for c in web.completions if c["token"] == "reuse-tok"]
    assert len(creates) == 1 and len({c["session"] for c in completions}) == 1
    assert [c["parent"] for c in completions] == [None, None, None]  # each from the chat's start: no context


def test_without_reuse_mode_each_one_shot_request_gets_its_session(fake, web):
    client = build(fake, web, FREESEEK_WEB_MIN_GAP_SECONDS="0", FREESEEK_WEB_GAP_JITTER_SECONDS="0").test_client()
    for content in ("first", "second"):
        assert chat(client, "fresh-tok", content).status_code == 200
    assert len({c["session"] for c in web.completions if c["token"] == "fresh-tok"}) == 2


def test_nothing_is_sent_to_the_web_chat_at_start_up(fake, web):
    build(fake, web, FREESEEK_TOKENS="boot-tok", FREESEEK_API_KEYS="k")
    assert web.requests == []


def test_idle_sessions_of_one_account_are_deleted_one_at_a_time_with_a_gap(fake, web):
    client = build(fake, web, FREESEEK_WEB_SESSION_IDLE_SECONDS="0.05", FREESEEK_WEB_DELETE_GAP_SECONDS="0.3",
                   FREESEEK_WEB_MIN_GAP_SECONDS="0", FREESEEK_WEB_GAP_JITTER_SECONDS="0").test_client()
    for content in ("one", "two", "three"):
        assert chat(client, "tidy-tok", content).status_code == 200
    assert wait_until(lambda: len(web.deletions) == 3, 20)
    times = web.deletion_times
    assert min(later - earlier for earlier, later in zip(times, times[1:])) >= 0.3, times


def test_a_cut_answer_is_continued_after_the_web_clients_own_pause(fake, web):
    web.account("cut-tok", cuts=1)
    response = chat(build(fake, web).test_client(), "cut-tok")  # FREESEEK_WEB_CONTINUE_PAUSE left at its default
    assert response.status_code == 200 and response.json["choices"][0]["message"]["content"] == "echo: hi there"
    first, resumed = answers_of(web, "cut-tok")
    assert resumed["start"] - first["end"] >= 3.0  # the web client's auto_resume_ms


@pytest.mark.parametrize("name, value", [("FREESEEK_WEB_PENALTY_FACTOR", "0"), ("FREESEEK_WEB_HOURLY_BUDGET", "-1"),
                                         ("FREESEEK_WEB_MIN_GAP_SECONDS", "-2")])
def test_a_pace_setting_out_of_range_is_refused_at_start_up_by_name(name, value):
    from services.settings import ConfigError, Settings
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_tries_that_never_send_the_answer_spend_no_budget_and_start_no_gap(fake, web, request, backend):
    env = {"FREESEEK_WEB_MIN_GAP_SECONDS": "30", "FREESEEK_WEB_GAP_JITTER_SECONDS": "0",
           "FREESEEK_WEB_HOURLY_BUDGET": "2"}
    if backend == "redis":
        env["FREESEEK_REDIS_URL"] = request.getfixturevalue("redis_url")
    app = build(fake, web, **env)
    client = app.test_client()
    web.account("unsent-tok", state="blocked")  # refused at the first call: no completion is ever sent
    for _ in range(2):
        assert chat(client, "unsent-tok").status_code == 403
    web.account("unsent-tok")
    gateway = app.extensions["freeseek"]
    gateway.pool.mark_live(parse_tokens("unsent-tok", gateway.registry)[0])  # what a /token/check would do
    care = care_of(client, "unsent-tok")
    assert (care["hour_left"], care["next_start"]) == (2, None)
    assert chat(client, "unsent-tok").status_code == 200  # no gap was started by the refused tries
    assert care_of(client, "unsent-tok")["hour_left"] == 1
    refused = chat(client, "unsent-tok")  # now the gap after a real answer holds
    assert refused.status_code == 429 and "FREESEEK_WEB_MIN_GAP_SECONDS" in refused.json["error"]["message"]
    assert len(answers_of(web, "unsent-tok")) == 1


def test_single_worker_memory_keeps_only_accounts_whose_pace_or_health_still_matters():
    from services.credentials import Token
    from services.pacing import DAY, AccountCare, MemoryPaceBook, Pace
    from services.pool import MemoryHealthStore, TokenPool
    now = [1000.0]
    store, book = MemoryHealthStore(lambda: now[0]), MemoryPaceBook()
    pool = TokenPool(lambda t: 1, store, clock=lambda: now[0])
    pool.care = AccountCare(Pace(min_gap=60, jitter=0, hourly=30, daily=0), book, lambda t: True, lambda: now[0])

    def answer_on_new_accounts(prefix: str, n: int) -> None:
        for i in range(n):  # any caller's token, on a server that holds none
            token = Token("deepseek-web", f"{prefix}-{i}")
            lease = pool.lease_now([token])
            lease.answer_sent()
            lease.release()
            assert pool.lease_now([token]) is None  # its gap holds it: a paced health is kept
    answer_on_new_accounts("old", 1000)
    assert (len(book._starts), len(book._next), len(store._health)) == (1000, 1000, 1000)
    now[0] += 2 * DAY  # every old account's gap, hourly window and rest are long over
    answer_on_new_accounts("new", 1000)
    assert (len(book._starts), len(book._next), len(store._health)) == (1000, 1000, 1000)

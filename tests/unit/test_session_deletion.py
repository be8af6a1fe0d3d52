"""Idle web sessions are deleted at a person's pace per account: different accounts side by side (up to 8 at
once), one account's never closer than FREESEEK_WEB_DELETE_GAP_SECONDS; sessions nobody deletes are forgotten
after a week."""

from __future__ import annotations

import threading
import time

from services.credentials import Token
from services.providers.deepseek_web.conversations import FORGET_AFTER_SECONDS, Conversations, Session
from services.providers.deepseek_web.deletions import LANES, Deletions
from services.store.redis import connect
from services.store.redis_conversations import RedisConversations
from tests.fakes.faulty_upstream import wait_until

GAP = 3.0


def chat(client, token: str, content: str):
    return client.post("/v1/chat/completions", json={"model": "deepseek-chat", "messages": [
        {"role": "user", "content": content}]}, headers={"Authorization": f"Bearer {token}"})


def sessions_of(web, token: str) -> list[str]:
    return [session for session, owner in web.sessions.items() if owner == token]


def test_accounts_are_cleared_side_by_side_while_one_account_keeps_its_gap(make_app, web):
    slow_sidebar = threading.Event()
    web.account("slow-tok", delete_hold=slow_sidebar)
    client = make_app(FREESEEK_WEB_SESSION_IDLE_SECONDS="0.05", FREESEEK_WEB_DELETE_GAP_SECONDS=str(GAP)).test_client()
    for content in ("one", "two"):   # two sessions of one account, idle first
        assert chat(client, "slow-tok", content).status_code == 200
    for token in ("tok-b", "tok-c", "tok-d"):
        assert chat(client, token, "hi").status_code == 200
    others = [session for token in ("tok-b", "tok-c", "tok-d") for session in sessions_of(web, token)]
    # Not queued behind slow-tok's first deletion (held), nor behind its second (it waits for the first).
    assert wait_until(lambda: set(others) <= set(web.deletions), 30), web.deletions
    assert not set(sessions_of(web, "slow-tok")) & set(web.deletions)
    slow_sidebar.set()
    assert wait_until(lambda: len(web.deletions) == 5, 30), web.deletions
    first, second = [at for session, at in zip(web.deletions, web.deletion_times)
                     if web.sessions[session] == "slow-tok"]
    assert second - first >= GAP   # from the end of one deletion on the account to the start of the next


def test_a_failing_deletion_does_not_stop_the_others():
    deleted, attempts, done = [], [], threading.Event()

    def delete(session: Session) -> None:
        attempts.append(session.id)
        if session.token.secret == "broken":
            raise RuntimeError("the web chat refused")
        deleted.append(session.id)
        if len(attempts) == 4:
            done.set()
    broken, fine = Token("deepseek-web", "broken"), Token("deepseek-web", "fine")
    Deletions(delete, gap=0).add([Session("b1", broken, 0), Session("f1", fine, 0), Session("b2", broken, 0),
                                  Session("f2", fine, 0)])
    assert done.wait(20), attempts
    assert sorted(deleted) == ["f1", "f2"] and sorted(attempts) == ["b1", "b2", "f1", "f2"]


def test_at_most_eight_deletions_run_at_once():
    lock, release, full, finished = threading.Lock(), threading.Event(), threading.Event(), threading.Event()
    counts = {"now": 0, "most": 0, "done": 0}

    def delete(session: Session) -> None:
        with lock:
            counts["now"] += 1
            counts["most"] = max(counts["most"], counts["now"])
            if counts["now"] == LANES:
                full.set()
        release.wait(30)
        with lock:
            counts["now"] -= 1
            counts["done"] += 1
            if counts["done"] == 12:
                finished.set()
    Deletions(delete, gap=60).add([Session(f"s{n}", Token("deepseek-web", f"account-{n}"), 0) for n in range(12)])
    assert full.wait(20)   # eight accounts' deletions under way together
    release.set()
    assert finished.wait(20)
    assert counts["most"] == LANES == 8


def test_sessions_nobody_deletes_are_forgotten_after_a_week_in_memory():
    now = [0.0]
    conversations = Conversations(1800, clock=lambda: now[0])
    a = Token("deepseek-web", "week-tok")
    conversations.created("old", a)
    now[0] = FORGET_AFTER_SECONDS + 1
    conversations.created("new", a)
    assert conversations.owner("old") is None and conversations.tracked() == 1


def test_sessions_nobody_deletes_are_forgotten_after_a_week_on_redis(redis_url):
    client = connect(redis_url)
    conversations = RedisConversations(client, 1800, prefix="freeseek:{deepseek-web}:")
    a = Token("deepseek-web", "week-tok")
    conversations.created("old", a)
    record = "freeseek:{deepseek-web}:session:old"
    assert 0 < client.ttl(record) <= FORGET_AFTER_SECONDS   # Redis forgets the record by itself
    conversations.acquire("old")
    conversations.release("old")
    assert client.ttl(record) > FORGET_AFTER_SECONDS - 60   # counted from the last use
    # A schedule entry a week overdue (deletion off, nobody takes it) goes when the next session is recorded.
    client.zadd("freeseek:{deepseek-web}:idle", {"old": time.time() - FORGET_AFTER_SECONDS - 60})
    conversations.created("new", a)
    assert conversations.tracked() == 1


"""The deepseek-web provider through the app, against the fake web chat on loopback."""

from __future__ import annotations

import json
import threading

import pytest

from services.prompt import flatten
from tests.helpers import deepseek_tokens
from tests.unit.test_chat_app import sse_events

HI = [{"role": "user", "content": "hi there"}]


def chat(client, tokens="webtok", messages=HI, model="deepseek-chat", stream=False, **body):
    return client.post("/v1/chat/completions", json={"model": model, "messages": messages, "stream": stream, **body},
                       headers={"Authorization": f"Bearer {tokens}"})


def stream_text(response) -> tuple[str, str, list]:
    events = sse_events(response)
    deltas = [e["choices"][0]["delta"] for e in events if isinstance(e, dict) and e.get("choices")]
    return ("".join(d.get("reasoning_content") or "" for d in deltas), "".join(d.get("content") or "" for d in deltas),
            events)


@pytest.mark.parametrize("fmt", ["patch", "fragments", "legacy"])
@pytest.mark.parametrize("stream", [False, True])
def test_each_stream_format_gives_content_and_reasoning(client, web, fmt, stream):
    web.account("webtok", format=fmt)
    response = chat(client, model="deepseek-reasoner", stream=stream)
    assert response.status_code == 200
    if stream:
        reasoning, content, events = stream_text(response)
        assert events[-1] == "[DONE]" and events[-2]["choices"][0]["finish_reason"] == "stop"
    else:
        message = response.json["choices"][0]["message"]
        reasoning, content = message.get("reasoning_content", ""), message["content"]
    assert (reasoning, content) == ("Let me think.", "echo: hi there")
    assert web.violations == []


def test_a_new_conversation_creates_a_session_solves_the_challenge_and_flattens_history(client, web):
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "How are you?"}]
    response = chat(client, messages=messages)
    completion = web.completions[-1]
    assert completion["prompt"] == flatten(messages)
    assert completion["parent"] is None and completion["thinking"] is False and completion["search"] is False
    assert web.violations == []  # the fake checked the PoW answer with its own DeepSeekHashV1
    assert response.json["id"] == f"{completion['session']}@{completion['message_id']}"
    paths = [r["path"] for r in web.requests]
    assert {"/api/v0/chat_session/create", "/api/v0/chat/create_pow_challenge"} <= set(paths)
    headers = web.requests[-1]["headers"]
    assert headers["X-Client-Platform"] == "web" and "br" not in headers["Accept-Encoding"]
    assert "Cookie" not in headers


@pytest.mark.parametrize("model, thinking, search", [
    ("deepseek-chat", False, False), ("deepseek_chat", False, False), ("deepseek_code", False, False),
    ("deepseek-r1", True, False), ("deepseek-think", True, False), ("deepseek-search", False, True),
    ("deepseek-r1-search-silent", True, True), ("gpt-4o", False, False),
])
def test_model_names_select_thinking_and_search(client, web, model, thinking, search):
    assert chat(client, model=model).status_code == 200
    assert (web.completions[-1]["thinking"], web.completions[-1]["search"]) == (thinking, search)


def test_search_rewrites_citations_and_lists_sources(client, web):
    _, content, _ = stream_text(chat(client, model="deepseek-search", stream=True))
    assert "[1] and [2]" in content and "citation" not in content
    assert content.endswith("Sources:\n[1] [Page A](https://example.org/a)\n[2] [Page B](https://example.org/b)")
    silent = chat(client, model="deepseek-search-silent").json["choices"][0]["message"]["content"]
    assert "[1] and [2]" in silent and "Sources" not in silent


def test_fold_puts_the_web_reasoning_in_details(client, web):
    content = chat(client, model="deepseek-think-fold").json["choices"][0]["message"]["content"]
    assert content.startswith("<details>") and "Let me think." in content and content.endswith("echo: hi there")


@pytest.mark.parametrize("fmt", ["patch", "fragments", "legacy"])
def test_incomplete_answers_finish_with_length(client, web, fmt):
    web.account("webtok", format=fmt, incomplete=True)
    assert chat(client).json["choices"][0]["finish_reason"] == "length"


def test_conversation_id_continues_natively(client, web):
    first = chat(client).json
    second = chat(client, messages=[{"role": "user", "content": "and then?"}], conversation_id=first["id"])
    assert second.status_code == 200
    before, after = web.completions
    assert after["session"] == before["session"] and after["parent"] == before["message_id"]
    assert after["prompt"] == "and then?"
    assert second.json["id"] == f"{after['session']}@{after['message_id']}"


def test_resent_history_continues_the_same_session_on_the_same_account(client, web):
    first = chat(client, tokens="webA,webB").json
    owner = web.completions[-1]["token"]
    history = HI + [{"role": "assistant", "content": first["choices"][0]["message"]["content"]},
                    {"role": "user", "content": "more please"}]
    start = web.completions[0]
    for _ in range(3):  # whichever token the pool would pick, the owner answers
        assert chat(client, tokens="webB,webA", messages=history).status_code == 200
        cont = web.completions[-1]
        assert cont["token"] == owner and cont["session"] == start["session"]
        assert cont["parent"] == start["message_id"] and cont["prompt"] == "more please"


def test_unknown_history_starts_a_new_flattened_session(client, web):
    chat(client)
    history = HI + [{"role": "assistant", "content": "something we never said"}, {"role": "user", "content": "ok"}]
    chat(client, messages=history)
    assert web.completions[1]["parent"] is None and web.completions[1]["session"] != web.completions[0]["session"]
    assert web.completions[1]["prompt"] == flatten(history)


def test_browser_json_token_is_accepted(client, web):
    token = json.dumps({"value": "jsontok", "__version": "0"})
    assert chat(client, tokens=token).status_code == 200
    assert web.completions[-1]["token"] == "jsontok"


def test_one_answer_at_a_time_per_account_extra_requests_wait(make_app, web):
    client = make_app(FREESEEK_FIRST_HEARTBEAT_SECONDS="0.2", FREESEEK_HEARTBEAT_SECONDS="0.2").test_client()
    web.account("webtok", text=["slow "] * 6, pace=0.1)
    results = []
    threads = [threading.Thread(target=lambda: results.append(chat(client, stream=True))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [r.status_code for r in results] == [200, 200]
    assert web.violations == []  # never two answers at once on the account
    waited = [r for r in results if ":" in sse_events(r)]
    assert waited, "the second request's keep-alive should follow its answer's start"


def test_a_busy_account_sends_the_request_to_another_free_token(make_app, web):
    client = make_app().test_client()
    web.account("webA", text=["slow "] * 6, pace=0.1)
    done = []
    first = threading.Thread(target=lambda: done.append(chat(client, tokens="webA")))
    first.start()
    while not any(c["token"] == "webA" for c in web.completions):
        threading.Event().wait(0.01)
    assert chat(client, tokens="webA,webB").status_code == 200
    assert web.completions[-1]["token"] == "webB"
    first.join(10)


def test_queue_timeout_gives_429_with_retry_after(make_app, web):
    client = make_app(FREESEEK_QUEUE_TIMEOUT="0.3", FREESEEK_FIRST_HEARTBEAT_SECONDS="5").test_client()
    web.account("webtok", text=["slow "] * 10, pace=0.1)
    busy = threading.Thread(target=lambda: chat(client))
    busy.start()
    while not web.completions:
        threading.Event().wait(0.01)
    response = chat(client)
    assert response.status_code == 429 and response.headers["Retry-After"]
    assert "busy" in response.json["error"]["message"]
    busy.join(10)


def test_a_dead_web_token_fails_over_to_an_api_key(client, web, fake):
    web.account("deadtok", state="dead")
    response = chat(client, tokens="deadtok,sk-api")
    assert response.status_code == 200 and response.json["choices"][0]["message"]["content"] == "echo: hi there"
    assert fake.keys_used() == ["sk-api"]
    alone = chat(client, tokens=web.account("deadtok2", state="dead"))
    assert alone.status_code == 401 and "web token" in alone.json["error"]["message"]


@pytest.mark.parametrize("state, status, words", [
    ("blocked", 403, "region block"), ("busy", 429, "too frequently"), ("banned", 403, "banned")])
def test_blocked_and_rate_limited_accounts_get_clear_errors(client, web, state, status, words):
    web.account("webtok", state=state)
    response = chat(client)
    assert response.status_code == status and words in response.json["error"]["message"]


def test_a_toast_before_content_is_an_upstream_error(client, web):
    web.account("webtok", toast=True)
    response = chat(client)
    assert response.status_code == 502 and "Server busy" in response.json["error"]["message"]


def test_a_cut_web_stream_ends_with_an_in_band_error(client, web):
    web.account("webtok", cut_after=6)
    _, _, events = stream_text(chat(client, stream=True))
    assert "error" in events[-1] and "[DONE]" not in events


def test_client_leaving_closes_the_upstream_and_stops_the_answer(client, web):
    web.account("webtok", text=["tick "] * 300, pace=0.02)
    response = client.post("/v1/chat/completions", json={"model": "deepseek-chat", "messages": HI, "stream": True},
                           headers={"Authorization": "Bearer webtok"}, buffered=False)
    chunks = iter(response.response)
    while b"tick" not in next(chunks):
        pass
    response.close()
    assert web.disconnected.wait(10) and web.stopped.wait(10)
    stop = web.stops[-1]
    assert stop["chat_session_id"] == web.completions[-1]["session"]
    assert stop["message_id"] == web.completions[-1]["message_id"]


def test_idle_sessions_are_deleted_upstream(make_app, web):
    client = make_app(FREESEEK_WEB_SESSION_IDLE_SECONDS="0.2").test_client()
    chat(client)
    assert web.deleted.wait(10)
    assert web.deletions == [web.completions[-1]["session"]]


def test_session_deletion_can_be_turned_off(make_app, web):
    app = make_app(FREESEEK_WEB_SESSION_IDLE_SECONDS="0.05", FREESEEK_WEB_DELETE_SESSIONS="false")
    chat(app.test_client())
    adapter = app.extensions["freeseek"].adapters["deepseek-web"]
    assert adapter._janitor is None and web.deletions == []


def test_usage_is_counted_with_deepseeks_tokenizer(client, web):
    usage = chat(client, model="deepseek-r1").json["usage"]
    assert usage["prompt_tokens"] == deepseek_tokens("hi there")
    assert usage["completion_tokens_details"]["reasoning_tokens"] == deepseek_tokens("Let me think.")
    assert usage["completion_tokens"] == deepseek_tokens("echo: hi there") + deepseek_tokens("Let me think.")


def test_token_check_asks_users_current(client, web):
    web.account("deadtok", state="dead")
    assert client.post("/token/check", json={"token": "webtok"}).json == {"live": True, "provider": "deepseek-web",
                                                                          "state": "ok"}
    assert client.post("/token/check", json={"token": "deadtok"}).json == {"live": False, "provider": "deepseek-web",
                                                                           "state": "dead"}
    assert web.requests[-1]["path"] == "/api/v0/users/current"


def test_models_list_search_names(client):
    ids = {m["id"] for m in client.get("/v1/models").json["data"]}
    assert {"deepseek-search", "deepseek-r1-search", "deepseek-search-silent", "deepseek-think-fold"} <= ids


@pytest.mark.parametrize("model, cut_after", [("deepseek-reasoner", 4), ("deepseek-chat", 3)])
def test_a_whole_answer_cut_after_some_reasoning_or_text_fails_over_and_shows_only_the_next_answer(
        client, web, model, cut_after):
    first = web.account("cut-first", thinking=["First ", "account ", "thinks."], text=["First ", "answer ", "here."],
                        cut_after=cut_after)
    second = web.account("cut-second", thinking=["Second ", "thinks."], text=["Second ", "answer."])
    response = client.post("/v1/chat/completions", headers={"Authorization": f"Bearer {first},{second}"},
                           json={"model": model, "messages": [{"role": "user", "content": "q"}]})
    assert response.status_code == 200, response.json
    message = response.json["choices"][0]["message"]
    assert message["content"] == "Second answer."
    assert message.get("reasoning_content") in (("Second thinks.",) if model == "deepseek-reasoner" else (None, ""))
    assert [c["token"] for c in web.completions] == [first, second]

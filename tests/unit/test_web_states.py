"""The web chat as it speaks today: identity, account states, stream endings, through the app against the fake."""

from __future__ import annotations

import time

import pytest

from tests.unit.web_fixtures import client, make_app  # noqa: F401 (fixtures)
from tests.unit.test_web_app import chat, stream_text


def completion_calls(web, token: str) -> int:
    return sum(1 for r in web.requests if r["path"] == "/api/v0/chat/completion" and r["token"] == token)


def error(response) -> tuple[int, str, str]:
    body = response.json["error"]
    return response.status_code, body["code"], body["message"]


def test_the_gateway_identifies_as_the_current_client_and_sends_the_current_body(client, web):
    response = chat(client)
    assert response.status_code == 200 and web.violations == []
    completion = web.completions[-1]
    assert (completion["model_type"], completion["preempt"], completion["action"], completion["source"],
            completion["ref_file_ids"]) == ("default", False, None, "input", [])
    call = next(r for r in web.requests if r["path"] == "/api/v0/chat/completion")
    assert call["headers"]["X-Client-Version"] == "2.5.0" and "X-App-Version" not in call["headers"]
    assert call["headers"]["Referer"] == f"{web.url}/a/chat/s/{completion['session']}"


def test_identity_and_body_are_settings(make_app, web):
    client = make_app(FREESEEK_WEB_CLIENT_VERSION="2.6.1", FREESEEK_WEB_MODEL_TYPE="expert",
                      FREESEEK_WEB_COMPLETION_FIELDS='{"action": null, "preempt": true, "source": "input"}').test_client()
    assert chat(client, model="deepseek-chat").status_code == 200
    call = next(r for r in web.requests if r["path"] == "/api/v0/chat/completion")
    assert call["headers"]["X-Client-Version"] == "2.6.1"
    assert (web.completions[-1]["model_type"], web.completions[-1]["preempt"]) == ("expert", True)


def test_expert_and_pro_names_ask_for_the_expert_model(client, web):
    for model in ("deepseek-expert", "deepseek-expert-think", "deepseek-v4-pro"):
        assert chat(client, model=model).status_code == 200
        assert web.completions[-1]["model_type"] == "expert"


def test_a_refused_client_version_names_the_setting(make_app, web):
    client = make_app(FREESEEK_WEB_CLIENT_VERSION="1.3.0").test_client()
    status, code, message = error(chat(client))
    assert (status, code) == (502, "client_version_too_low") and "FREESEEK_WEB_CLIENT_VERSION" in message


def test_a_muted_account_rests_until_its_mute_ends_and_others_answer(client, web):
    until = int(time.time()) + 7200
    web.account("mutedtok", state="muted", mute_until=until)
    status, code, message = error(chat(client, tokens="mutedtok"))
    assert (status, code) == (403, "account_muted")
    assert time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(until)) in message
    assert chat(client, tokens="mutedtok,oktok").json["choices"][0]["message"]["content"] == "echo: hi there"
    before = completion_calls(web, "mutedtok")
    assert chat(client, tokens="mutedtok,oktok").status_code == 200
    assert completion_calls(web, "mutedtok") == before  # still muted: not asked again
    status, code, again = error(chat(client, tokens="mutedtok"))  # alone again: the mute, not "cooling down"
    assert (status, code) == (403, "account_muted") and time.strftime("%H:%M UTC", time.gmtime(until)) in again
    assert completion_calls(web, "mutedtok") == before


def test_a_nine_day_mute_is_honoured(client, web):
    until = int(time.time()) + 9 * 86400
    web.account("longmute", state="muted", mute_until=until)
    response = chat(client, tokens="longmute")
    assert response.status_code == 403 and response.json["error"]["code"] == "account_muted"
    assert abs(int(response.headers["Retry-After"]) - 9 * 86400) < 60
    assert time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(until)) in response.json["error"]["message"]


@pytest.mark.parametrize("mute_until", [int(time.time() * 1000) + 3_600_000, 10 ** 20, 1e300])
def test_a_mute_end_out_of_range_is_treated_as_unstated_not_as_centuries(client, web, mute_until):
    web.account("oddmute", state="muted", mute_until=mute_until)
    for _ in range(2):  # the second one meets the remembered mute
        response = chat(client, tokens="oddmute")
        assert response.status_code == 403 and response.json["error"]["code"] == "account_muted"
        assert int(response.headers.get("Retry-After", "0")) <= 3600
        assert "until" not in response.json["error"]["message"].split("muted by DeepSeek")[1]


def test_a_short_mute_is_waited_out_within_the_queue_timeout(make_app, web):
    client = make_app(FREESEEK_QUEUE_TIMEOUT="10").test_client()
    web.account("briefmute", state="muted", mute_until=int(time.time()) + 2)
    response = chat(client, tokens="briefmute")
    assert response.status_code == 200 and response.json["choices"][0]["message"]["content"] == "echo: hi there"
    assert completion_calls(web, "briefmute") == 2  # refused while muted, answered once the mute ended


@pytest.mark.parametrize("state, words", [("banned", "banned"), ("risk", "risk device")])
def test_banned_accounts_get_a_403_that_says_so(client, web, state, words):
    web.account("badtok", state=state)
    status, code, message = error(chat(client, tokens="badtok"))
    assert (status, code) == (403, "account_banned") and words in message
    status, code, again = error(chat(client, tokens="badtok"))  # set aside: the ban is restated
    assert (status, code) == (403, "account_banned") and words in again
    assert completion_calls(web, "badtok") == 0 and sum(r["token"] == "badtok" for r in web.requests) <= 3


@pytest.mark.parametrize("state, words", [("blocked", "HTML page"), ("waf", "x-amzn-waf-action"),
                                          ("challenge", "browser challenge")])
def test_blocks_name_their_cause_and_fail_over(client, web, fake, state, words):
    web.account("walltok", state=state)
    status, code, message = error(chat(client, tokens="walltok"))
    assert (status, code) == (403, "web_chat_blocked") and words in message and "not the account's fault" in message
    assert chat(client, tokens="walltok,sk-after-wall").status_code == 200


@pytest.mark.parametrize("error_status, status", [(500, 502), (502, 502), (503, 503), (504, 502)])
def test_a_cdn_error_page_is_an_outage_that_fails_over_not_a_block(client, web, error_status, status):
    web.account("downtok", state="server_error", error_status=error_status)
    response = chat(client, tokens="downtok")
    got, code, message = error(response)
    assert got == status and code != "web_chat_blocked" and f"HTTP {error_status}" in message
    assert "<" not in message and "not the account's fault" not in message
    web.account("downtok2", state="server_error", error_status=error_status)
    assert chat(client, tokens="downtok2,oktok").status_code == 200
    check = client.post("/token/check", json={"token": "downtok"}).json
    assert check["live"] is True  # rested for a moment, never set aside as dead


@pytest.mark.parametrize("code", [1001, 1201])
def test_overload_is_a_503_and_fails_over(client, web, code):
    web.account("fulltok", state="overloaded", overload_code=code)
    assert chat(client, tokens="fulltok").status_code == 503
    web.account("fulltok2", state="overloaded", overload_code=code)
    assert chat(client, tokens="fulltok2,oktok").status_code == 200


def test_an_invalid_pow_gets_one_fresh_challenge_on_the_same_account(client, web):
    web.account("powtok", state="pow_once")
    assert chat(client, tokens="powtok").status_code == 200
    assert completion_calls(web, "powtok") == 2
    web.account("powbad", state="pow_always")
    assert chat(client, tokens="powbad,oktok").status_code == 200
    assert completion_calls(web, "powbad") == 2  # one fresh challenge, then the next token


@pytest.mark.parametrize("knobs, model", [({"state": "unsupported"}, "deepseek-chat"),
                                          ({"state": "unsupported", "refusal_event": "toast"}, "deepseek-chat"),
                                          ({"expert_refused": True}, "deepseek-expert")])
def test_an_unsupported_client_is_a_clear_error_not_retried_elsewhere(client, web, knobs, model):
    web.account("oldtok1", **knobs)
    web.account("oldtok2", **knobs)
    status, code, message = error(chat(client, tokens="oldtok1,oldtok2", model=model))
    assert (status, code) == (502, "unsupported_client") and "FREESEEK_WEB_CLIENT_VERSION" in message
    assert completion_calls(web, "oldtok1") + completion_calls(web, "oldtok2") == 1


def test_a_rate_limit_hint_cools_the_account_and_fails_over(client, web):
    web.account("hinttok", format="current", hint="rate_limit")
    assert chat(client, tokens="hinttok").status_code == 429
    assert chat(client, tokens="hinttok,oktok").status_code == 200
    assert completion_calls(web, "hinttok") == 1  # cooling down: not asked again


@pytest.mark.parametrize("knobs, status, code", [({"hint": "input_exceeds_limit", "format": "current"}, 400, "context_length_exceeded"),
                                                 ({"end_status": "CONTEXT_LENGTH_EXCEEDED", "format": "current"}, 400,
                                                  "context_length_exceeded"),
                                                 ({"end_status": "TIMEOUT", "format": "current"}, 504,
                                                  "upstream_timeout")])
def test_input_too_long_and_timeouts_are_not_retried_on_another_account(client, web, knobs, status, code):
    web.account("longtok1", **knobs)
    web.account("longtok2", **knobs)
    assert error(chat(client, tokens="longtok1,longtok2"))[:2] == (status, code)
    assert completion_calls(web, "longtok1") + completion_calls(web, "longtok2") == 1


@pytest.mark.parametrize("stream", [False, True])
def test_a_content_filter_after_a_provisional_finish_ends_with_content_filter(client, web, stream):
    web.account("filtertok", format="current", content_filter=True, text=["Some ", "partial ", "answer"])
    response = chat(client, tokens="filtertok", stream=stream)
    if stream:
        _, content, events = stream_text(response)
        finish = events[-2]["choices"][0]["finish_reason"]
    else:
        content, finish = (response.json["choices"][0]["message"]["content"],
                           response.json["choices"][0]["finish_reason"])
    assert (content, finish) == ("Some partial answer", "content_filter")


@pytest.mark.parametrize("knobs", [{"think_type": "THINKING"}, {"think_type": "REASONING"},
                                   {"answer_type": "TEMPLATE_RESPONSE"}, {"value_shape": "text"},
                                   {"value_shape": "content"}, {"batches": True}, {"set_fragments": True}])
def test_the_current_stream_in_each_of_its_shapes(client, web, knobs):
    web.account("shapetok", format="current", **knobs)
    message = chat(client, tokens="shapetok", model="deepseek-reasoner").json["choices"][0]["message"]
    assert (message["reasoning_content"], message["content"]) == ("Let me think.", "echo: hi there")


@pytest.mark.parametrize("search_type", ["SEARCH", "TOOL_SEARCH", "TOOL_OPEN", "TOOL_FIND"])
@pytest.mark.parametrize("search_key, citation", [("results", "citation"), ("references", "reference")])
def test_search_fragments_give_sources_and_citations(client, web, search_type, search_key, citation):
    web.account("searchtok", format="current", search_type=search_type, search_key=search_key, citation=citation)
    content = chat(client, tokens="searchtok", model="deepseek-search").json["choices"][0]["message"]["content"]
    assert "[1] and [2]" in content and "[citation" not in content and "[reference" not in content
    assert "[1] [Page A](https://example.org/a)" in content and "Searching the web" not in content


MUTE_END = (int(time.time()) // 86400 + 4) * 86400  # a real mute: days away, at midnight
MUTE_TEXT = time.strftime("%Y-%m-%d 00:00 UTC", time.gmtime(MUTE_END))


@pytest.mark.parametrize("knobs, expected", [
    ({}, {"live": True, "state": "ok"}),
    ({"state": "muted", "mute_until": MUTE_END}, {"live": True, "state": "muted", "muted_until": MUTE_TEXT}),
    ({"state": "muted", "mute_until": MUTE_END, "mute_where": "chat"}, {"live": True, "state": "muted",
                                                                        "muted_until": MUTE_TEXT}),
    ({"state": "muted", "mute_until": 1e20}, {"live": True, "state": "muted", "muted_until": None}),
    ({"state": "banned"}, {"live": False, "state": "banned"}),
    ({"state": "dead"}, {"live": False, "state": "dead"}),
])
def test_token_check_reports_the_account_state(client, web, knobs, expected):
    web.account("checktok", **knobs)
    body = client.post("/token/check", json={"token": "checktok"}).json
    assert {k: body[k] for k in expected} == expected and body["provider"] == "deepseek-web"


def test_a_hint_followed_by_an_answer_is_not_an_error(client, web):
    web.account("hintanswer", format="current", hint="rate_limit", hint_answer=True)
    response = chat(client, tokens="hintanswer")
    assert response.status_code == 200 and response.json["choices"][0]["message"]["content"] == "echo: hi there"

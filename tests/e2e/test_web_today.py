"""The web chat as it speaks today, under gunicorn + gevent, through the openai SDK: what a user sees."""

from __future__ import annotations

import base64
import time

import openai
import pytest
import requests

from tests.e2e.conftest import openai_client

STORY = ["It was ", "a quiet ", "night, and ", "the gateway ", "kept every word."]
WHOLE = "".join(STORY)
ASK = [{"role": "user", "content": "tell me"}]


@pytest.fixture(scope="module")
def gateway(start_gateway):
    return start_gateway(FREESEEK_WEB_CONTINUE_PAUSE="0.05")


def sdk(gateway, key):
    return openai_client(gateway, key)


def streamed(client, **kwargs) -> tuple[str, str | None]:
    chunks = list(client.chat.completions.create(stream=True, messages=kwargs.pop("messages", ASK), **kwargs))
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    return content, [c.choices[0].finish_reason for c in chunks if c.choices][-1]


def test_a_twice_cut_answer_reaches_the_client_whole(gateway, web):
    web.account("e2e-cut", format="current", text=STORY, cut_at=[4, 21])
    assert streamed(sdk(gateway, "e2e-cut"), model="deepseek-chat") == (WHOLE, "stop")
    whole = sdk(gateway, "e2e-cut").chat.completions.create(model="deepseek-chat", messages=ASK)
    assert (whole.choices[0].message.content, whole.choices[0].finish_reason) == (WHOLE, "stop")
    assert web.violations == []


def test_a_content_filter_is_reported_as_such(gateway, web):
    web.account("e2e-filter", format="current", content_filter=True, text=["Half ", "an answer"])
    assert streamed(sdk(gateway, "e2e-filter"), model="deepseek-chat") == ("Half an answer", "content_filter")


def test_a_muted_account_alone_is_a_permission_error_that_says_until_when(gateway, web):
    until = int(time.time()) + 3600
    web.account("e2e-muted", state="muted", mute_until=until)
    with pytest.raises(openai.PermissionDeniedError) as caught:
        sdk(gateway, "e2e-muted").chat.completions.create(model="deepseek-chat", messages=ASK)
    assert time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(until)) in caught.value.message
    reply = sdk(gateway, "e2e-muted,e2e-unmuted").chat.completions.create(model="deepseek-chat", messages=ASK)
    assert reply.choices[0].message.content == "echo: tell me"
    check = requests.post(gateway.url + "/token/check", json={"token": "e2e-muted"}, timeout=10).json()
    assert (check["live"], check["state"]) == (True, "muted")


def test_an_over_long_prompt_is_a_bad_request_without_retries(gateway, web):
    web.account("e2e-long1", format="current", hint="input_exceeds_limit")
    web.account("e2e-long2", format="current", hint="input_exceeds_limit")
    with pytest.raises(openai.BadRequestError) as caught:
        sdk(gateway, "e2e-long1,e2e-long2").chat.completions.create(model="deepseek-chat", messages=ASK)
    assert caught.value.code == "context_length_exceeded"
    assert sum(1 for r in web.requests if r["path"] == "/api/v0/chat/completion"
               and r["token"] in ("e2e-long1", "e2e-long2")) == 1


def test_an_outdated_client_identity_names_the_setting(start_gateway, web):
    old = start_gateway(FREESEEK_WEB_CLIENT_VERSION="1.3.0")
    with pytest.raises(openai.APIStatusError) as caught:
        sdk(old, "e2e-old-client").chat.completions.create(model="deepseek-chat", messages=ASK)
    assert caught.value.status_code == 502 and "FREESEEK_WEB_CLIENT_VERSION" in caught.value.message


def test_an_image_is_uploaded_and_referenced(gateway, web):
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 64).decode()
    messages = [{"role": "user", "content": [{"type": "text", "text": "what is it"},
                                             {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}}]}]
    reply = sdk(gateway, "e2e-image").chat.completions.create(model="deepseek-chat", messages=messages)
    assert reply.choices[0].finish_reason == "stop"
    assert web.completions[-1]["ref_file_ids"] == [web.uploads[-1]["id"]] and web.violations == []


def test_search_sources_from_current_fragments(gateway, web):
    web.account("e2e-search", format="current", search_type="TOOL_SEARCH", search_key="references",
                citation="reference")
    content, finish = streamed(sdk(gateway, "e2e-search"), model="deepseek-search")
    assert "[1] and [2]" in content and "[2] [Page B](https://example.org/b)" in content and finish == "stop"

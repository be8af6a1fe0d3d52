"""One rule for model names (README, Models): what each provider serves and what an unknown name gets."""

from __future__ import annotations

import json
import logging

import pytest

WEB = {"Authorization": "Bearer web-token-1"}
API = {"Authorization": "Bearer sk-api"}


def chat(client, model: str, headers: dict, stream: bool = False):
    return client.post("/v1/chat/completions", headers=headers, json={
        "model": model, "stream": stream, "messages": [{"role": "user", "content": "hi there"}]})


@pytest.mark.parametrize("model, served, thinking", [
    ("gpt-4o", "deepseek-chat", False), ("deepseek-chat-v9", "deepseek-chat", False),
    ("deepseek-v4-flash", "deepseek-chat", False), ("deepseek-flash", "deepseek-chat", False),
    ("o3-think", "deepseek-reasoner", True), ("deepseek-ai/DeepSeek-R1", "deepseek-reasoner", True),
])
def test_the_web_chat_answers_a_name_it_does_not_know_as_ours_and_says_which(client, web, caplog, model, served,
                                                                            thinking):
    with caplog.at_level(logging.INFO, logger="freeseek"):
        response = chat(client, model, WEB)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["model"] == served
    assert web.completions[-1]["thinking"] is thinking
    assert any(repr(model) in line and served in line for line in caplog.messages), caplog.messages


def test_a_streamed_answer_names_what_served_it_in_every_chunk(client, web):
    response = chat(client, "gpt-4o", WEB, stream=True)
    chunks = [json.loads(line[6:]) for line in response.get_data(as_text=True).splitlines()
              if line.startswith("data: {")]
    assert chunks and {c["model"] for c in chunks} == {"deepseek-chat"}


def test_our_names_are_echoed_as_sent(client, web):
    assert chat(client, "deepseek_code", WEB).json["model"] == "deepseek_code"


def test_an_api_upstream_gets_an_unknown_name_unchanged_and_decides(client, fake):
    response = chat(client, "gpt-4o", API)
    assert response.status_code == 200 and response.json["model"] == "gpt-4o"
    assert fake.requests[-1]["json"]["model"] == "gpt-4o"


def test_with_both_kinds_of_tokens_an_unknown_name_goes_to_the_api_token(client, fake, web):
    response = chat(client, "gpt-4o", {"Authorization": "Bearer web-token-1,sk-api"})
    assert response.status_code == 200 and response.json["model"] == "gpt-4o"
    assert fake.keys_used() == ["sk-api"] and web.completions == []


def test_a_providers_own_id_goes_to_that_provider(client, fake):
    response = chat(client, "deepseek-flash", {"Authorization": "Bearer siliconflow:sk-sf,sk-api"})
    assert response.status_code == 200 and fake.keys_used() == ["sk-api"]
    assert fake.requests[-1]["json"]["model"] == "deepseek-flash"


def test_messages_and_responses_report_what_served_an_unknown_name(client, web):
    message = client.post("/v1/messages", headers=WEB, json={
        "model": "gpt-4o", "max_tokens": 100, "messages": [{"role": "user", "content": "hi there"}]})
    assert message.status_code == 200 and message.json["model"] == "deepseek-chat"
    claude = client.post("/v1/messages", headers=WEB, json={
        "model": "claude-sonnet-4-6", "max_tokens": 100, "messages": [{"role": "user", "content": "hi there"}]})
    assert claude.json["model"] == "claude-sonnet-4-6"   # mapped by FREESEEK_CLAUDE_MODEL_MAP, echoed
    response = client.post("/v1/responses", headers=WEB, json={"model": "gpt-4o", "input": "hi there"})
    assert response.status_code == 200 and response.json["model"] == "deepseek-chat"


@pytest.mark.parametrize("model, headers, words", [
    ("gpt-4o", WEB, "GET /v1/models"), ("gpt-4o", API, "FREESEEK_STRICT_MODELS"),
    ("deepseek-flash", WEB, "deepseek's own model id"), ("deepseek-v4-flash", WEB, "not served here"),
])
def test_strict_models_make_an_unknown_name_a_400_and_send_nothing(make_app, fake, web, model, headers, words):
    client = make_app(FREESEEK_STRICT_MODELS="true").test_client()
    response = chat(client, model, headers)
    assert response.status_code == 400
    error = response.json["error"]
    assert error["code"] == "model_not_found" and error["param"] == "model" and words in error["message"]
    assert fake.requests == [] and web.requests == []


def test_strict_models_still_serve_our_names_and_a_providers_own_id(make_app, fake, web):
    client = make_app(FREESEEK_STRICT_MODELS="true").test_client()
    assert chat(client, "deepseek-reasoner", WEB).status_code == 200
    assert chat(client, "deepseek-flash", API).status_code == 200
    anthropic = client.post("/v1/messages", headers=WEB, json={
        "model": "gpt-4o", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]})
    assert anthropic.status_code == 400 and anthropic.json["error"]["type"] == "invalid_request_error"

"""Chat completions through the app against a fake upstream on loopback (Flask's test client)."""

from __future__ import annotations

import json
import logging

import pytest

from app import create_app
from tests.conftest import FAST_ENV
from tests.fakes.keepalive_upstream import KeepAliveUpstream
from tests.helpers import deepseek_tokens


def chat(client, tokens="sk-a", stream=False, **body):
    body = {"model": "deepseek-chat", "messages": [{"role": "user", "content": "hi there"}], "stream": stream, **body}
    return client.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {tokens}"})


def sse_events(response) -> list:
    """Parse our SSE output into JSON objects, "[DONE]", and ":" for comments."""
    events = []
    for block in response.get_data(as_text=True).split("\n\n"):
        if not block:
            continue
        assert block.startswith(("data: ", ":")), block
        assert "\nevent:" not in block and not block.startswith("event:")
        events.append(":" if block.startswith(":") else
                      "[DONE]" if block == "data: [DONE]" else json.loads(block[6:]))
    return events


def test_non_stream_answer_relays_upstream_text_and_usage(client, fake):
    response = chat(client)
    assert response.status_code == 200
    body = response.json
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "echo: hi there"}
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["model"] == "deepseek-chat"
    assert body["usage"]["prompt_tokens"] == len("hi there")
    assert body["usage"]["prompt_tokens_details"] == {"cached_tokens": 2}


def test_alias_is_mapped_and_unknown_fields_reach_the_upstream(client, fake):
    chat(client, model="deepseek-reasoner", temperature=0.3, response_format={"type": "json_object"},
         some_new_param={"x": [1]})
    sent = fake.requests[-1]["json"]
    assert sent["model"] == "deepseek-flash"
    assert sent["thinking"] == {"type": "enabled"}
    assert sent["temperature"] == 0.3 and sent["response_format"] == {"type": "json_object"}
    assert sent["some_new_param"] == {"x": [1]}
    assert sent["stream"] is True


def test_client_choice_of_thinking_wins_over_the_alias(client, fake):
    chat(client, model="deepseek-chat", thinking={"type": "enabled"})
    assert fake.requests[-1]["json"]["thinking"] == {"type": "enabled"}


def test_stream_follows_the_openai_grammar(client, fake):
    events = sse_events(chat(client, stream=True))
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert "usage" not in events[0]
    texts = [e["choices"][0]["delta"].get("content") for e in events[1:-2]]
    assert "".join(texts) == "echo: hi there"
    assert events[-2]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}
    assert events[-1] == "[DONE]"
    assert len({e["id"] for e in events[:-1]}) == 1 and len({e["created"] for e in events[:-1]}) == 1


@pytest.mark.parametrize("usage_style", ["openai", "deepseek", "none"])
def test_include_usage_adds_one_usage_chunk_whatever_the_upstream_does(client, fake, usage_style):
    fake.script("sk-u", usage_style=usage_style)
    events = sse_events(chat(client, tokens="sk-u", stream=True, stream_options={"include_usage": True}))
    assert events[-1] == "[DONE]"
    usage_chunk = events[-2]
    assert usage_chunk["choices"] == [] and usage_chunk["usage"]["total_tokens"] > 0
    assert all(e["usage"] is None for e in events[:-2])
    if usage_style == "none":  # counted with DeepSeek's tokenizer, not guessed from characters
        assert usage_chunk["usage"]["completion_tokens"] == deepseek_tokens("echo: hi there")
        assert usage_chunk["usage"]["prompt_tokens"] == deepseek_tokens("hi there")
    else:
        assert usage_chunk["usage"]["prompt_tokens"] == len("hi there")


def test_without_include_usage_no_usage_chunk_even_if_upstream_sends_one(client, fake):
    fake.script("sk-d", usage_style="deepseek")
    events = sse_events(chat(client, tokens="sk-d", stream=True))
    assert all("usage" not in e for e in events if isinstance(e, dict))
    assert events[-2]["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize("style", ["reasoning_content", "reasoning", "think"])
def test_reasoning_reaches_the_client_as_reasoning_content(client, fake, style):
    fake.script("sk-r", reasoning=["Let me", " think."], reasoning_style=style, text=["Answer", "."])
    events = sse_events(chat(client, tokens="sk-r", stream=True))
    deltas = [e["choices"][0]["delta"] for e in events if isinstance(e, dict) and e["choices"]]
    assert "".join(d.get("reasoning_content", "") for d in deltas) == "Let me think."
    assert "".join(d.get("content", "") for d in deltas) == "Answer."
    body = chat(client, tokens="sk-r").json["choices"][0]["message"]
    assert body == {"role": "assistant", "content": "Answer.", "reasoning_content": "Let me think."}


def test_fold_model_puts_reasoning_into_content(client, fake):
    fake.script("sk-r", reasoning=["hmm"], text=["Yes"])
    message = chat(client, tokens="sk-r", model="deepseek-r1-fold").json["choices"][0]["message"]
    assert "reasoning_content" not in message
    assert message["content"].startswith("<details>") and "hmm" in message["content"]
    assert message["content"].endswith("</details>\n\nYes")


def test_split_crlf_lines_and_whitespace_deltas_survive(client, fake):
    fake.script("sk-s", text=["a", " ", "\n", "b"], split_bytes=7)
    assert chat(client, tokens="sk-s").json["choices"][0]["message"]["content"] == "a \nb"


def test_an_upstream_that_ignores_stream_still_works(client, fake):
    fake.script("sk-j", json_reply=True, reasoning=["r"])
    events = sse_events(chat(client, tokens="sk-j", stream=True))
    deltas = [e["choices"][0]["delta"] for e in events if isinstance(e, dict) and e["choices"]]
    assert "".join(d.get("content", "") for d in deltas) == "echo: hi there"


def test_tool_calls_are_relayed_and_assembled(client, fake):
    calls = [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "get", "arguments": ""}},
             {"index": 0, "function": {"arguments": "{\"a\":"}}, {"index": 0, "function": {"arguments": "1}"}}]
    fake.script("sk-t", text=[], tool_calls=calls)
    body = chat(client, tokens="sk-t", tools=[{"type": "function", "function": {"name": "get"}}]).json
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["tool_calls"] == [{"id": "call_1", "type": "function",
                                                "function": {"name": "get", "arguments": "{\"a\":1}"}}]
    assert fake.requests[-1]["json"]["tools"] == [{"type": "function", "function": {"name": "get"}}]


def test_failover_moves_to_the_next_token_and_remembers_the_dead_one(client, fake):
    fake.script("sk-dead", status=401, error_body={"error": {"message": "Authentication Fails, Your api key: ****dead is invalid"}})
    fake.script("sk-busy", status=503)
    for _ in range(3):
        response = chat(client, tokens="sk-dead,sk-busy,sk-ok")
        assert response.status_code == 200
        assert response.json["choices"][0]["message"]["content"] == "echo: hi there"
    used = fake.keys_used()
    assert used.count("sk-ok") == 3
    assert used.count("sk-dead") <= 1  # dead after its first 401, not asked again


@pytest.mark.parametrize("script, status, code", [
    ({"status": 401}, 401, "invalid_api_key"),
    ({"status": 402, "error_body": {"error": {"message": "Insufficient Balance"}}}, 402, "insufficient_quota"),
    ({"status": 403, "error_body": "Forbidden"}, 403, "forbidden"),
    ({"status": 429, "headers": {"Retry-After": "7"}}, 429, "rate_limit_exceeded"),
    ({"status": 500}, 502, "upstream_error"),
    ({"status": 503}, 503, "upstream_unavailable"),
    ({"status": 400, "error_body": {"error": {"message": "bad max_tokens"}}}, 400, "invalid_request"),
    ({"status": 404, "error_body": {"code": 20012, "message": "Model does not exist", "data": None}}, 404, "not_found"),
    ({"status": 422}, 422, "unprocessable_entity"),
])
def test_each_upstream_error_class_reaches_the_client_with_its_status(client, fake, script, status, code):
    fake.script("sk-x", **script)
    response = chat(client, tokens="sk-x")
    assert response.status_code == status
    assert response.json["error"]["code"] == code
    assert set(response.json["error"]) == {"message", "type", "param", "code"}
    if status == 429:
        assert response.headers["Retry-After"] == "7"


def test_client_errors_are_not_retried_on_other_tokens(client, fake):
    fake.script("sk-bad", status=400, error_body={"error": {"message": "max_tokens too large"}})
    response = chat(client, tokens="sk-bad,sk-ok")
    assert response.status_code == 400 and "max_tokens too large" in response.json["error"]["message"]
    assert fake.keys_used() == ["sk-bad"]


def test_wait_n_seconds_text_sets_the_cooldown(make_app, fake):
    client = make_app(FREESEEK_MAX_RETRY_AFTER_SECONDS="7200").test_client()  # over an hour: believed up to that
    fake.script("sk-gh", status=429, error_body={"error": {"code": "RateLimitReached",
                                                           "message": "Please wait 5631 seconds before retrying."}})
    response = chat(client, tokens="sk-gh")
    assert response.status_code == 429 and response.headers["Retry-After"] == "5631"
    again = chat(client, tokens="sk-gh")  # cooling down: not sent upstream again
    assert again.status_code == 429 and fake.keys_used() == ["sk-gh"]


def test_most_telling_error_when_every_token_fails(client, fake):
    fake.script("sk-401", status=401)
    fake.script("sk-429", status=429, headers={"Retry-After": "3"})
    response = chat(client, tokens="sk-401,sk-429")
    assert response.status_code == 429 and response.headers["Retry-After"] == "3"
    assert "All 2 tries failed" in response.json["error"]["message"]


def test_secrets_never_leave_in_errors_or_logs(client, fake, caplog):
    secret = "sk-verysecretvalue1234"
    fake.script(secret, status=401, error_body={"error": {"message": f"Your api key: ****1234 ({secret}) is invalid"}})
    fake.script("sk-other-secret-5678", status=400, error_body={"error": {"message": "key sk-other-secret-5678 ****5678"}})
    with caplog.at_level(logging.DEBUG, logger="freeseek"):
        first = chat(client, tokens=secret)
        second = chat(client, tokens="sk-other-secret-5678")
    for text in (first.get_data(as_text=True), second.get_data(as_text=True), caplog.text):
        assert "verysecret" not in text and "1234" not in text and "other-secret" not in text and "5678" not in text
    assert "tok:" in first.json["error"]["message"]
    assert "hi there" not in caplog.text  # prompts are not logged
    assert "request id=chatcmpl-" in caplog.text


def test_a_stream_cut_mid_answer_ends_with_an_error_not_a_finish(client, fake):
    fake.script("sk-cut", cut_after=2)
    events = sse_events(chat(client, tokens="sk-cut", stream=True))
    assert "error" in events[-1] and events[-1]["error"]["type"] == "upstream_error"
    assert "[DONE]" not in events
    assert not any(e["choices"][0].get("finish_reason") for e in events if isinstance(e, dict) and e.get("choices"))


def test_a_cut_before_any_content_fails_over(client, fake):
    fake.script("sk-cut0", cut_after=0)
    response = chat(client, tokens="sk-cut0,sk-ok")
    assert response.status_code == 200 and fake.keys_used() == ["sk-cut0", "sk-ok"]


def test_error_object_mid_stream_goes_in_band(client, fake):
    fake.script("sk-e", mid_stream_error=True)
    events = sse_events(chat(client, tokens="sk-e", stream=True))
    assert events[-1]["error"]["message"].endswith("overloaded")


def test_upstream_keepalives_are_not_content_and_first_content_deadline_fails_over(make_app, fake):
    client = make_app(FREESEEK_FIRST_CONTENT_TIMEOUT="1.5").test_client()
    fake.script("sk-stall", stall=True)
    response = chat(client, tokens="sk-stall,sk-ok", stream=True)
    events = sse_events(response)
    assert ":" in events  # our own keep-alive while the stalled upstream was tried
    assert "".join(e["choices"][0]["delta"].get("content", "") for e in events
                   if isinstance(e, dict) and e["choices"]) == "echo: hi there"
    assert fake.keys_used() == ["sk-stall", "sk-ok"]


def test_first_content_deadline_alone_gives_504_naming_the_setting(make_app, fake):
    client = make_app(FREESEEK_FIRST_CONTENT_TIMEOUT="0.5", FREESEEK_FIRST_HEARTBEAT_SECONDS="5").test_client()
    fake.script("sk-stall", stall=True)
    response = chat(client, tokens="sk-stall")
    assert response.status_code == 504
    assert "FREESEEK_FIRST_CONTENT_TIMEOUT" in response.json["error"]["message"]


def test_slow_non_stream_answer_sends_leading_whitespace(make_app, fake):
    client = make_app(FREESEEK_FIRST_HEARTBEAT_SECONDS="0.2", FREESEEK_HEARTBEAT_SECONDS="0.2").test_client()
    fake.script("sk-slow", keepalives=4, pace=0.15)
    response = chat(client, tokens="sk-slow")
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and text.startswith("\n")
    assert json.loads(text)["choices"][0]["message"]["content"] == "echo: hi there"


def test_model_no_provider_of_the_request_can_serve_gives_400(client):
    response = chat(client, tokens="sk-a", model="deepseek-search")
    assert response.status_code == 400 and response.json["error"]["param"] == "model"


def test_native_model_id_goes_only_to_providers_that_list_it(client, fake):
    response = chat(client, tokens="ollama:x,siliconflow:sk-sf", model="deepseek-ai/DeepSeek-V3")
    assert response.status_code == 200
    assert fake.keys_used() == ["sk-sf"] and fake.requests[-1]["json"]["model"] == "deepseek-ai/DeepSeek-V3"


@pytest.mark.parametrize("stream", [False, True])
def test_upstream_connections_are_reused_after_complete_answers(stream):
    with KeepAliveUpstream() as upstream:
        client = create_app({"env": FAST_ENV, "providers": {"ollama": {"base_url": upstream.url}}}).test_client()
        for _ in range(3):
            response = chat(client, tokens="ollama:x", stream=stream)
            assert response.status_code == 200 and "ok" in response.get_data(as_text=True)
        assert len(upstream.client_ports) == 3 and len(set(upstream.client_ports)) == 1  # one connection

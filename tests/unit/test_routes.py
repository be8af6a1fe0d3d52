"""Bad input, the small routes, server-held tokens and cancellation, through the app."""

from __future__ import annotations

import pytest

from app import create_app
from services.settings import ConfigError
from tests.conftest import FAST_ENV, provider_overrides

AUTH = {"Authorization": "Bearer sk-a"}
GOOD = {"model": "deepseek-chat", "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize("body, param, words", [
    ({}, "messages", "Missing data"),
    ({"messages": []}, "messages", "at least one"),
    ({"messages": "hi"}, "messages", "Not a valid list"),
    ({"messages": [{"role": "robot", "content": "x"}]}, "messages.0.role", "Must be one of"),
    ({"messages": [{"content": "x"}]}, "messages.0.role", "Missing data"),
    ({"messages": [{"role": "user", "content": 5}]}, "messages.0.content", "Must be a string"),
    ({"messages": [{"role": "user", "content": [{"type": "text", "text": 3}]}]}, "messages.0.content", "text part"),
    ({**GOOD, "stream": "yes"}, "stream", "boolean"),
    ({**GOOD, "stream": 1}, "stream", "boolean"),
    ({**GOOD, "temperature": "hot"}, "temperature", "number"),
    ({**GOOD, "max_tokens": -3}, "max_tokens", "positive integer"),
    ({**GOOD, "model": 7}, "model", "Not a valid string"),
    ({**GOOD, "stream_options": {"include_usage": "y"}}, "stream_options.include_usage", "boolean"),
])
def test_bad_bodies_get_a_400_naming_the_field(client, fake, body, param, words):
    response = client.post("/v1/chat/completions", json=body, headers=AUTH)
    assert response.status_code == 400
    error = response.json["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param and words in error["message"]
    assert response.headers["x-should-retry"] == "false"
    assert fake.requests == []


@pytest.mark.parametrize("data, content_type, status", [
    ("{not json", "application/json", 400),
    ("[1, 2]", "application/json", 400),
    ('"text"', "application/json", 400),
    ("model=x", "application/x-www-form-urlencoded", 415),
])
def test_non_json_bodies_are_refused(client, data, content_type, status):
    response = client.post("/v1/chat/completions", data=data, content_type=content_type, headers=AUTH)
    assert response.status_code == status and response.json["error"]["message"]


def test_body_over_the_limit_gets_413(make_app):
    client = make_app(FREESEEK_MAX_BODY_BYTES="1000").test_client()
    body = {**GOOD, "messages": [{"role": "user", "content": "x" * 2000}]}
    response = client.post("/v1/chat/completions", json=body, headers=AUTH)
    assert response.status_code == 413 and response.json["error"]["code"] == "request_too_large"


@pytest.mark.parametrize("headers, code", [({}, "missing_api_key"), ({"Authorization": "Basic abc"},
                                          "invalid_authorization_header"), ({"Authorization": "Bearer , ,"},
                                          "missing_api_key")])
def test_missing_credentials_get_401(client, headers, code):
    response = client.post("/v1/chat/completions", json=GOOD, headers=headers)
    assert response.status_code == 401 and response.json["error"]["code"] == code


def test_unknown_routes_and_wrong_methods_get_openai_errors(client):
    assert client.get("/v2/whatever").status_code == 404
    assert client.get("/v2/whatever").json["error"]["type"] == "not_found_error"
    response = client.get("/v1/chat/completions")
    assert response.status_code == 405 and "POST" in response.headers["Allow"]
    assert response.json["error"]["code"] == "method_not_allowed"
    assert client.delete("/v1/models").status_code == 405


def test_ping_and_healthz(client):
    assert client.get("/ping").get_data(as_text=True) == "pong"
    assert client.get("/healthz").json["status"] == "ok"


def test_models_lists_aliases_and_provider_ids_on_both_paths(client):
    for path in ("/v1/models", "/models"):
        body = client.get(path).json
        ids = {m["id"] for m in body["data"]}
        assert body["object"] == "list"
        assert {"deepseek-chat", "deepseek-reasoner", "deepseek_chat", "deepseek_code", "deepseek-r1"} <= ids
        assert "deepseek-ai/DeepSeek-R1" in ids
        assert all(m["object"] == "model" and m["owned_by"] and m["created"] for m in body["data"])


def test_chat_completions_also_answers_without_v1(client):
    response = client.post("/chat/completions", json=GOOD, headers=AUTH)
    assert response.status_code == 200 and response.json["choices"][0]["message"]["content"] == "echo: hi"


def test_token_check_asks_the_tokens_upstream(client, fake):
    fake.dead_keys.add("sk-gone")
    assert client.post("/token/check", json={"token": "sk-live"}).json == {"live": True, "provider": "deepseek"}
    gone = client.post("/token/check", json={"token": "sk-gone"}).json
    assert (gone["live"], gone["provider"]) == (False, "deepseek")
    # Another provider's key sent without its name is the usual cause: the answer says how to send it.
    assert "invalid or revoked" in gone["detail"] and "'siliconflow:sk-...'" in gone["detail"]
    assert "sk-gone" not in gone["detail"]
    assert client.post("/token/check", json={"token": "siliconflow:sk-x"}).json["provider"] == "siliconflow"
    assert fake.requests[-1]["path"] == "/v1/models"
    assert client.post("/token/check", json={"token": ""}).status_code == 400
    assert client.post("/token/check", json={}).status_code == 400


def test_server_without_api_keys_refuses_to_start(fake):
    for name in ("FREESEEK_TOKENS", "DEEP_SEEK_CHAT_AUTHORIZATION"):
        with pytest.raises(ConfigError, match="FREESEEK_API_KEYS"):
            create_app({"env": {name: "sk-owner"}})


def test_server_held_tokens_need_an_api_key(fake, web):
    app = create_app({"env": {**FAST_ENV, "DEEP_SEEK_CHAT_AUTHORIZATION": "sk-owner",
                              "FREESEEK_API_KEYS": "key-1,key-2"},
                      "providers": provider_overrides(fake.url, web.url)})
    client = app.test_client()
    assert client.post("/v1/chat/completions", json=GOOD, headers={"Authorization": "Bearer sk-mine"}).status_code == 401
    response = client.post("/v1/chat/completions", json=GOOD, headers={"Authorization": "Bearer key-2"})
    assert response.status_code == 200 and fake.keys_used() == ["sk-owner"]


def test_providers_file_overrides_and_adds_providers(fake, web, tmp_path):
    path = tmp_path / "providers.toml"
    path.write_text(f'[providers.deepseek]\nbase_url = "{fake.url}"\n\n[providers.deepseek-web]\nbase_url = "{web.url}"\n\n'
                    f'[providers.myollama]\nbase_url = "{fake.url}"\nmodels = {{ chat = "deepseek-v3:671b" }}\n')
    client = create_app({"env": {**FAST_ENV, "FREESEEK_PROVIDERS_FILE": str(path)}}).test_client()
    response = client.post("/v1/chat/completions", json=GOOD, headers={"Authorization": "Bearer myollama:anything"})
    assert response.status_code == 200
    assert fake.requests[-1]["json"]["model"] == "deepseek-v3:671b" and fake.keys_used() == ["anything"]
    assert client.post("/v1/chat/completions", json=GOOD, headers=AUTH).status_code == 200


def test_a_client_that_leaves_closes_the_upstream(client, fake):
    fake.script("sk-long", text=["tick "] * 400, pace=0.02)
    response = client.post("/v1/chat/completions", json={**GOOD, "stream": True},
                           headers={"Authorization": "Bearer sk-long"}, buffered=False)
    first = next(iter(response.response))
    assert first.startswith(b"data: ")
    response.close()  # the client goes away mid-answer
    assert fake.disconnected.wait(timeout=10), "the upstream connection stayed open after the client left"

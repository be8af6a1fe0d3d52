"""CORS on every route (preflights, answers, errors, streams), the page at `/`, and `GET /pool`."""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

import pytest

from app import create_app
from services.credentials import Token
from services.errors import RateLimited
from services.pool import TokenPool
from services.providers.failures import failure
from tests.conftest import FAST_ENV, provider_overrides

GOOD = {"model": "deepseek-chat", "messages": [{"role": "user", "content": "hi"}]}
PAGE = "https://chat.example"
# What the SDKs send from a browser (openai-node and anthropic-sdk-typescript, with dangerouslyAllowBrowser).
OPENAI_SDK = ("authorization, content-type, openai-organization, openai-project, x-stainless-arch, "
              "x-stainless-lang, x-stainless-os, x-stainless-package-version, x-stainless-retry-count, "
              "x-stainless-runtime, x-stainless-runtime-version, x-stainless-timeout")
ANTHROPIC_SDK = ("anthropic-beta, anthropic-dangerous-direct-browser-access, anthropic-version, content-type, "
                 "x-api-key, x-stainless-helper-method, x-stainless-os")


def preflight(client, path="/v1/chat/completions", headers=OPENAI_SDK, origin=PAGE):
    return client.options(path, headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                                         "Access-Control-Request-Headers": headers})


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/chat/completions", "/token/check", "/v1/models"])
@pytest.mark.parametrize("sdk_headers", [OPENAI_SDK, ANTHROPIC_SDK])
def test_preflights_allow_what_the_browser_sdks_send(client, path, sdk_headers):
    response = preflight(client, path, sdk_headers)
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] in ("*", PAGE)
    allowed = {h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert allowed == {h.strip() for h in sdk_headers.split(",")}
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert int(response.headers["Access-Control-Max-Age"]) > 0
    assert "Access-Control-Allow-Credentials" not in response.headers


def test_a_header_no_sdk_sends_is_not_allowed(client):
    response = preflight(client, headers="authorization, x-stainless-os, x-something-else")
    allowed = response.headers["Access-Control-Allow-Headers"].lower()
    assert "x-something-else" not in allowed and "x-stainless-os" in allowed


def test_answers_and_errors_carry_cors_headers_so_a_page_sees_the_real_error(client, fake):
    fake.script("sk-busy", status=429, headers={"Retry-After": "7"})
    cases = [
        (client.post("/v1/chat/completions", json=GOOD, headers={"Origin": PAGE, "Authorization": "Bearer sk-a"}), 200),
        (client.post("/v1/chat/completions", json=GOOD, headers={"Origin": PAGE}), 401),
        (client.post("/v1/chat/completions", json={}, headers={"Origin": PAGE, "Authorization": "Bearer sk-a"}), 400),
        (client.post("/v1/chat/completions", json=GOOD, headers={"Origin": PAGE, "Authorization": "Bearer sk-busy"}),
         429),
        (client.get("/v2/nothing", headers={"Origin": PAGE}), 404),
        (client.get("/v1/chat/completions", headers={"Origin": PAGE}), 405),
    ]
    for response, status in cases:
        assert response.status_code == status
        assert response.headers["Access-Control-Allow-Origin"] in ("*", PAGE), status
        assert "Retry-After" in response.headers["Access-Control-Expose-Headers"]
    assert cases[3][0].headers["Retry-After"]


def test_a_stream_carries_cors_headers(client):
    response = client.post("/v1/chat/completions", json={**GOOD, "stream": True},
                           headers={"Origin": PAGE, "Authorization": "Bearer sk-a"})
    assert response.mimetype == "text/event-stream" and response.headers["Access-Control-Allow-Origin"]
    assert b"data: [DONE]" in response.get_data()


def test_configured_origins_are_the_only_ones_allowed(make_app):
    client = make_app(FREESEEK_CORS_ORIGINS=f"{PAGE}, https://other.example").test_client()
    assert preflight(client).headers["Access-Control-Allow-Origin"] == PAGE
    assert preflight(client, origin="https://other.example").headers["Access-Control-Allow-Origin"] == \
        "https://other.example"
    refused = preflight(client, origin="https://chat.example.evil.test")
    assert "Access-Control-Allow-Origin" not in refused.headers
    assert "Origin" in client.get("/v1/models", headers={"Origin": PAGE}).headers["Vary"]


def test_the_page_is_served_with_everything_from_the_gateway_itself(client):
    with client.get("/") as response:
        assert response.status_code == 200 and response.mimetype == "text/html"
        html = response.get_data(as_text=True)
    for section in ('id="connect"', 'id="pool"', 'id="check"', 'id="chat"'):
        assert section in html
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert refs and all(ref.startswith(("/static/", "data:")) for ref in refs), refs
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    for ref in refs:
        if ref.startswith("/static/"):
            with client.get(ref) as asset:
                assert asset.status_code == 200
                text = asset.get_data(as_text=True)
            assert not re.search(r"(?:src|href|import|url)\s*[=(]\s*[\"']?https?://", text)


def server_app(fake, web, tokens="sk-owner-1,siliconflow:sk-owner-2"):
    app = create_app({"env": {**FAST_ENV, "FREESEEK_TOKENS": tokens, "FREESEEK_API_KEYS": "key-1"},
                      "providers": provider_overrides(fake.url, web.url)})
    app.extensions["freeseek"].pool.choose = lambda tokens: tokens[0]  # the tokens' order, deterministically
    return app


def test_the_pool_of_server_held_tokens_is_shown_only_to_a_holder_of_an_api_key(fake, web):
    client = server_app(fake, web).test_client()
    assert client.get("/pool").status_code == 401
    assert client.get("/pool", headers={"Authorization": "Bearer sk-owner-1"}).status_code == 401
    response = client.get("/pool", headers={"Authorization": "Bearer key-1"})
    assert response.status_code == 200 and response.json["server_tokens"] is True
    rows = response.json["tokens"]
    assert [(r["provider"], r["state"], r["in_flight"]) for r in rows] == [("deepseek", "ok", 0),
                                                                           ("siliconflow", "ok", 0)]
    assert all(re.fullmatch(r"tok:[0-9a-f]{6}", r["token"]) for r in rows)
    assert "sk-owner" not in response.get_data(as_text=True)


def test_the_pool_shows_a_rejected_token_as_dead_with_its_status(fake, web):
    fake.script("sk-owner-1", status=401)
    client = server_app(fake, web).test_client()
    auth = {"Authorization": "Bearer key-1"}
    assert client.post("/v1/chat/completions", json=GOOD, headers=auth).status_code == 200  # failed over
    rows = {r["provider"]: r for r in client.get("/pool", headers=auth).json["tokens"]}
    assert rows["deepseek"]["state"] == "dead" and rows["deepseek"]["last_status"] == 401
    assert rows["deepseek"]["until"] > 0 and rows["siliconflow"]["state"] == "ok"


def test_a_zero_config_server_shows_the_callers_own_tokens(client):
    body = client.get("/pool", headers={"Authorization": "Bearer sk-mine, hf_theirs"}).json
    assert body["server_tokens"] is False
    assert [r["provider"] for r in body["tokens"]] == ["deepseek", "huggingface"]


def test_a_checked_token_is_never_logged(client, caplog):
    caplog.set_level(logging.DEBUG)
    secret = "sk-page-pasted-secret-123"
    assert client.post("/token/check", json={"token": secret}).json["live"] is True
    assert caplog.records and not any(secret in r.getMessage() for r in caplog.records)


def test_the_pool_view_names_the_last_error_class():
    pool = TokenPool(limit_for=lambda token: 1)
    token = Token("deepseek", "sk-x")
    pool.report_failure(token, failure(RateLimited("slow down", retry_after=30), token_state="cooldown",
                                       retryable=True))
    [row] = pool.view([token])
    assert (row["state"], row["last_error"], row["last_status"], row["limit"]) == ("cooldown", "RateLimited", 429, 1)
    assert time.time() + 25 < row["until"] < time.time() + 35


STATIC = sorted(p.name for p in (Path(__file__).resolve().parents[2] / "static").iterdir())


@pytest.mark.parametrize("path", ["/", "/static/index.html", "/static/%69ndex.html",
                                  "/static/index.html?v=1"] + [f"/static/{name}" for name in STATIC])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_every_way_to_reach_the_page_carries_its_headers(client, path, method):
    with client.get("/") as page:
        policy = page.headers["Content-Security-Policy"]
    with client.open(path, method=method) as response:
        assert response.status_code == 200, path
        assert response.headers["Content-Security-Policy"] == policy
    assert "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_page_is_not_served_under_other_names_without_its_headers(client):
    for path in ("/index.html", "/static/", "/static//index.html", "/static/nothing.html", "//static/index.html"):
        with client.get(path) as response:
            if response.status_code in (301, 308):  # to the one name of the file, which carries the headers
                assert response.headers["Location"].endswith("/static/index.html"), path
            else:
                assert response.status_code == 404 or response.headers.get("Content-Security-Policy"), path

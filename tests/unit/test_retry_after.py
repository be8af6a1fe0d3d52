"""An upstream's Retry-After is read as HTTP says (delta-seconds or an HTTP-date) and capped; any other value
is absent: the gateway keeps answering, its Retry-After stays a small integer and /pool stays valid JSON."""

from __future__ import annotations

import json
import time
from email.utils import formatdate

import pytest


def chat(client, key: str):
    return client.post("/v1/chat/completions", json={"model": "deepseek-chat", "messages": [
        {"role": "user", "content": "hi"}]}, headers={"Authorization": f"Bearer {key}"})


def strict_json(text: str):
    """Parse JSON as the RFC has it: `Infinity` and `NaN` are not JSON."""
    def refuse(name):
        raise ValueError(f"not JSON: {name}")
    return json.loads(text, parse_constant=refuse)


# (the upstream's Retry-After, what the client is told); the pool rests the token 5 s when no wait is given.
@pytest.mark.parametrize("value, told", [
    ("inf", 5), ("nan", 5), ("-inf", 5), ("1e308", 5), ("-5", 5), ("12.5", 5), ("soon", 5), ("", 5),
    ("99999999999", 3600), ("9" * 5000, 5), ("Wed, 21 Oct 2015 07:28:00 GMT", 5), ("7", 7),
])
def test_a_bad_retry_after_is_absent_and_a_long_one_is_capped(make_app, fake, value, told):
    client = make_app().test_client()
    key = fake.script(f"sk-ra-{len(fake.scripts)}", status=429, headers={"Retry-After": value})
    first = chat(client, key)
    assert first.status_code == 429 and first.headers["Retry-After"] == str(told)
    again = chat(client, key)  # the token rests: refused from what the pool remembers, not a 500
    assert again.status_code == 429 and 0 < int(again.headers["Retry-After"]) <= told
    pool = client.get("/pool", headers={"Authorization": f"Bearer {key}"})
    row = strict_json(pool.get_data(as_text=True))["tokens"][0]
    assert pool.status_code == 200 and row["state"] == "cooldown"
    assert 0 < row["until"] - time.time() <= told + 1


def test_an_http_date_is_read_as_the_time_to_wait(make_app, fake):
    client = make_app().test_client()
    key = fake.script("sk-ra-date", status=429, headers={"Retry-After": formatdate(time.time() + 120, usegmt=True)})
    response = chat(client, key)
    assert response.status_code == 429 and 115 <= int(response.headers["Retry-After"]) <= 121


def test_the_cap_is_a_setting(make_app, fake):
    client = make_app(FREESEEK_MAX_RETRY_AFTER_SECONDS="600").test_client()
    for header in ("Retry-After", "retry-after-ms"):
        key = fake.script(f"sk-ra-cap-{header}", status=429, headers={header: "99999999999"})
        assert chat(client, key).headers["Retry-After"] == "600"


def test_a_server_error_with_a_bad_retry_after_still_fails_over(make_app, fake):
    client = make_app().test_client()
    bad = fake.script("sk-ra-503", status=503, headers={"Retry-After": "inf"})
    response = chat(client, f"{bad},sk-ra-good")
    assert response.status_code == 200 and response.json["choices"][0]["message"]["content"] == "echo: hi"

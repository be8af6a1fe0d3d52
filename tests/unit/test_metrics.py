"""`GET /metrics` after traffic, read back with prometheus_client's own parser."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from app import create_app
from tests.conftest import FAST_ENV, provider_overrides

HI = [{"role": "user", "content": "hi there"}]


def scrape(client) -> dict:
    """Every sample as {(name, sorted labels): value}."""
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def chat(client, key="sk-a", **body):
    return client.post("/v1/chat/completions", json={"model": "deepseek-chat", "messages": HI, **body},
                       headers={"Authorization": f"Bearer {key}"})


def test_requests_latency_tokens_and_queue_waits_are_counted(client, fake):
    fake.script("sk-bad", status=401)
    before = scrape(client)
    assert chat(client).status_code == 200
    assert chat(client).status_code == 200
    stream = chat(client, model="some/unknown-model", stream=True)
    assert b"[DONE]" in stream.get_data()
    assert chat(client, key="sk-bad").status_code == 401
    after = scrape(client)

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    req = "freeseek_requests_total"
    assert moved(req, dialect="openai_chat", provider="deepseek", model="deepseek-chat", status="200") == 2
    assert moved(req, dialect="openai_chat", provider="deepseek", model="other", status="200") == 1
    assert moved(req, dialect="openai_chat", provider="deepseek", model="deepseek-chat", status="401") == 1
    # The fake reports usage: prompt = characters of the messages, completion = pieces sent (3).
    assert moved("freeseek_tokens_total", dialect="openai_chat", provider="deepseek", direction="in") >= 2 * 8
    assert moved("freeseek_tokens_total", dialect="openai_chat", provider="deepseek", direction="out") >= 2 * 3
    assert moved("freeseek_request_duration_seconds_count", dialect="openai_chat", provider="deepseek") == 4
    assert moved("freeseek_time_to_first_byte_seconds_count", dialect="openai_chat", provider="deepseek") == 3
    assert moved("freeseek_queue_wait_seconds_count", outcome="leased") == 4
    assert value(after, "freeseek_streams_open", dialect="openai_chat") == 0
    assert value(after, "freeseek_queue_waiting") == 0
    assert value(after, "process_resident_memory_bytes") > 0


def test_a_stream_is_counted_open_while_it_flows(client, fake):
    fake.script("sk-slow", text=["a", "b", "c", "d"], pace=0.2)
    response = client.post("/v1/chat/completions", json={"model": "deepseek-chat", "messages": HI, "stream": True},
                           headers={"Authorization": "Bearer sk-slow"}, buffered=False)
    chunks = iter(response.response)
    assert next(chunks).startswith(b"data: ")
    assert value(scrape(client), "freeseek_streams_open", dialect="openai_chat") == 1
    for _ in chunks:
        pass
    response.close()
    assert value(scrape(client), "freeseek_streams_open", dialect="openai_chat") == 0


def test_labels_stay_bounded_and_hold_no_secret(client, fake):
    for i in range(5):
        chat(client, key=f"sk-secret-{i}", model=f"custom-model-{i}")
    text = client.get("/metrics").get_data(as_text=True)
    assert "sk-secret" not in text and "tok:" not in text and "custom-model" not in text
    models = {labels for (name, labels) in scrape(client) if name == "freeseek_requests_total"}
    assert {dict(labels)["model"] for labels in models} == {"other"}


def test_pool_state_of_server_held_tokens_by_provider(fake, web):
    fake.script("sk-owner-1", status=401)
    app = create_app({"env": {**FAST_ENV, "FREESEEK_TOKENS": "sk-owner-1,sk-owner-2,siliconflow:sk-owner-3",
                              "FREESEEK_API_KEYS": "key-1"}, "providers": provider_overrides(fake.url, web.url)})
    app.extensions["freeseek"].pool.choose = lambda tokens: tokens[0]
    client = app.test_client()
    samples = scrape(client)
    assert value(samples, "freeseek_pool_tokens", provider="deepseek", state="ok") == 2
    assert value(samples, "freeseek_pool_tokens", provider="siliconflow", state="ok") == 1
    assert chat(client, key="key-1").status_code == 200    # sk-owner-1 is rejected, sk-owner-2 answers
    samples = scrape(client)
    assert value(samples, "freeseek_pool_tokens", provider="deepseek", state="dead") == 1
    assert value(samples, "freeseek_pool_tokens", provider="deepseek", state="ok") == 1
    assert value(samples, "freeseek_pool_in_flight", provider="deepseek") == 0
    assert "sk-owner" not in client.get("/metrics").get_data(as_text=True)

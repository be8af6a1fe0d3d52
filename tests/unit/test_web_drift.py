"""The drift watch: what the web chat sends that the provider does not know is counted, logged once, and shown."""

from __future__ import annotations

import json
import logging

import pytest

from services.providers.deepseek_web import drift as d
from services.providers.deepseek_web.drift import Drift
from services.providers.deepseek_web.stream import WebStreamParser
from services.sse import SSEEvent
from tests.unit.test_web_app import chat
from tests.unit.web_fixtures import client, make_app  # noqa: F401  (a patient first heartbeat)

READY = ("ready", {"request_message_id": 1, "response_message_id": 2})
SNAPSHOT = {"v": {"response": {"message_id": 2, "fragments": [], "status": "WIP"}}}
SECRET_TEXT = "my-secret-answer-words"


def parse(lines: list, drift: Drift) -> str:
    parser = WebStreamParser(drift=drift)
    out = []
    for item in lines:
        event, data = item if isinstance(item, tuple) else (None, item)
        out += parser.feed(SSEEvent(json.dumps(data) if not isinstance(data, str) else data, event))
    return "".join(getattr(e, "content", "") or "" for e in out)


NEW_SHAPES = {
    "event": ([("suggestions", {"items": [SECRET_TEXT]})], ("event", "suggestions")),
    "path": ([{"p": "response/fragments/-1/votes", "v": SECRET_TEXT},
              {"p": "response/fragments/3/votes", "v": 2}], ("path", "response/fragments/*/votes")),
    "fragment": ([{"p": "response/fragments", "o": "APPEND", "v": [{"type": "CANVAS", "content": SECRET_TEXT}]}],
                 ("fragment", "CANVAS")),
    "status": ([{"p": "response/status", "v": "PAUSED"}], ("status", "PAUSED")),
    "code": ([{"code": 40999, "msg": SECRET_TEXT}], ("code", "stream:40999")),
    "shape": ([{"value": SECRET_TEXT, "path": "response/content"}], ("shape", "keys:path+value")),
    "hint": ([("hint", {"type": "error", "content": "quota_exhausted"})], ("notice", "hint:quota_exhausted")),
}


@pytest.mark.parametrize("kind", NEW_SHAPES)
def test_each_kind_of_new_shape_is_counted_and_logged_once_without_text(kind, caplog):
    lines, expected = NEW_SHAPES[kind]
    drift = Drift()
    body = [READY, SNAPSHOT, *lines, *lines, {"p": "response/fragments", "o": "APPEND",
                                              "v": [{"type": "RESPONSE", "content": "ok"}]}]
    with caplog.at_level(logging.WARNING, logger="freeseek"):
        try:
            parse(body, drift)
        except Exception:
            assert kind == "code"  # a stream error still ends the answer; it is counted first
    counts = drift.counts()
    assert expected in counts and counts[expected] >= 2 if kind != "code" else counts[expected] == 1
    assert set(counts) == {expected}, counts  # the known shapes around it are not counted
    logged = [r.getMessage() for r in caplog.records if "web chat drift" in r.getMessage()]
    assert len(logged) == 1 and expected[1] in logged[0]
    assert SECRET_TEXT not in logged[0] and SECRET_TEXT[:4] not in logged[0]


def test_the_current_stream_and_every_documented_shape_count_nothing(web):
    from tests.fakes.web_account import Account
    from tests.fakes.web_streams import stream_bytes
    from services.sse import read_events
    drift = Drift()
    for account in (Account(), Account(format="patch", cuts=1), Account(format="fragments"),
                    Account(format="legacy"), Account(content_filter=True), Account(search_type="TOOL_SEARCH")):
        for round in (0, 1) if account.cuts else (0,):
            parser = WebStreamParser(drift=drift)
            for sse in read_events([stream_bytes(account, "hi", 2, True, True, round=round)]):
                parser.feed(sse)
    assert drift.counts() == {}


def test_names_are_capped_and_the_rest_count_as_other():
    drift = Drift(max_names=3, quiet=True)
    for i in range(10):
        drift.note(d.EVENT, f"event{i}", {})
    counts = drift.counts()
    assert len(counts) == 4 and counts[(d.EVENT, "other")] == 7


def test_the_gateway_counts_new_shapes_on_metrics_and_the_drift_route(web, client, caplog):
    web.account("webtok", drift={"rename": {"update_session": "session_updated"},
                                 "events": ['data: {"p": "response/fragments/-1/likes", "v": 3}\n\n'],
                                 "fields": {"/api/v0/chat_session/create": {"folder_id": "f-123"},
                                            "/api/v0/chat/create_pow_challenge": {"challenge_v2": {"a": 1}}}})
    with caplog.at_level(logging.WARNING, logger="freeseek"):
        first = chat(client)
        second = chat(client, messages=[{"role": "user", "content": "again"}])
    assert first.status_code == 200 and first.json["choices"][0]["message"]["content"] == "echo: hi there"
    assert second.status_code == 200
    metrics = client.get("/metrics").text
    for kind, name in (("event", "session_updated"), ("path", "response/fragments/*/likes"),
                       ("field", "chat_session/create:folder_id"), ("field", "chat/create_pow_challenge:challenge_v2")):
        assert f'freeseek_web_unknown_total{{kind="{kind}",name="{name}"}}' in metrics, (kind, name)
    view = client.get("/metrics/web-drift").json
    shapes = {(s["kind"], s["name"]): s for s in view["shapes"]}
    assert shapes[("event", "session_updated")]["count"] >= 2  # renamed at the start and the end of each answer
    assert shapes[("field", "chat_session/create:folder_id")]["count"] == 2
    assert all(s["first_seen"] <= s["last_seen"] for s in view["shapes"])
    logged = [r.getMessage() for r in caplog.records if "web chat drift" in r.getMessage()]
    assert len(logged) == len(shapes)  # once per shape, not per occurrence
    assert not any("f-123" in line or "webtok" in line for line in logged)


@pytest.mark.parametrize("drift_knob,shape", [
    ({"codes": {"/api/v0/chat_session/create": (0, 77)}}, ("code", "biz_code:77")),
    ({"codes": {"/api/v0/chat_session/create": (41234, 0)}}, ("code", "code:41234")),
    ({"content_type": {"/api/v0/chat/create_pow_challenge": "application/x-protobuf"}},
     ("content_type", "application/x-protobuf")),
])
def test_new_codes_and_content_types_of_calls_are_counted(web, client, drift_knob, shape):
    web.account("webtok", drift=drift_knob)
    chat(client)
    assert (shape[0], shape[1]) in {(s["kind"], s["name"]) for s in client.get("/metrics/web-drift").json["shapes"]}
    assert f'freeseek_web_unknown_total{{kind="{shape[0]}",name="{shape[1]}"}} 1.0' in client.get("/metrics").text

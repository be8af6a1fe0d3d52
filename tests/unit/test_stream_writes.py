"""How a streamed answer is written: the events of one upstream burst in one write, and an event that
arrives alone sent at once (the gateway never holds one back waiting for company)."""

from __future__ import annotations

import json
import time


def stream(client, key: str):
    """POST a streamed chat and return (arrival time, bytes) of each write of the response body."""
    response = client.post("/v1/chat/completions", buffered=False, headers={"Authorization": f"Bearer {key}"},
                           json={"model": "deepseek-chat", "stream": True,
                                 "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 200
    writes = [(time.monotonic(), piece) for piece in response.response if piece]
    response.close()
    return writes


def contents(body: bytes) -> list[str]:
    events = [line[6:] for line in body.decode().split("\n") if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    return [c["choices"][0]["delta"].get("content") for c in map(json.loads, events[:-1]) if c["choices"]]


def test_a_burst_from_the_upstream_goes_out_in_fewer_writes_than_events(client, fake):
    writes = stream(client, fake.script("sk-burst", text=[f"piece {i} " for i in range(20)], burst=True))
    body = b"".join(piece for _, piece in writes)
    assert "".join(c or "" for c in contents(body)) == "".join(f"piece {i} " for i in range(20))
    assert len(writes) <= 2  # 23 events (role, 20 pieces, finish, [DONE]) from one upstream write


def test_an_event_that_arrives_alone_is_written_at_once(client, fake):
    writes = stream(client, fake.script("sk-paced", text=["one", "two", "three"], pace=0.4))
    with_text = [(at, piece) for at, piece in writes if b'"content":"t' in piece or b'"content":"o' in piece]
    assert [contents_of for _, p in with_text for contents_of in contents(p + b"data: [DONE]\n\n") if contents_of] \
        == ["one", "two", "three"]
    gaps = [later - earlier for (earlier, _), (later, _) in zip(with_text, with_text[1:])]
    assert all(gap > 0.25 for gap in gaps), gaps  # each piece was written as it came, not with the next

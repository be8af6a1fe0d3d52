"""The web chat's stream parser, citations, and the DeepSeekHashV1 solver, in isolation."""

from __future__ import annotations

import base64
import json

import pytest

from services.events import Text
from services.providers.deepseek_web.pow import deepseek_hash, pow_response, solve
from services.providers.deepseek_web.citations import Citations, sources_text
from services.providers.deepseek_web.stream import WebStreamError, WebStreamParser
from services.sse import SSEEvent
from tests.fakes.keccak_reference import deepseek_hash_hex

VECTORS = {
    b"abc": "f841106c601ce9be9bc38525e90d4178d47f21dd8eb9f238fc55ffaa4ca94506",
    b"": "e594808bc5b7151ac160c6d39a02e0a8e261ed588578403099e3561dc40c26b3",
    b"a1b2c3d4e5f6a7b8c9d0_1735000000000_12345": "d5e322641a535e636bddd4888f27f3bbbaf0422a36fbc3bf87f7817fd0833367",
    b"0f1e2d3c4b5a69788796_1767225600000_143999": "f99dfd1071f8bdb8d9ca5df4738ed14510c7e349b47aaae25de825a4d007e539",
}


@pytest.mark.parametrize("message, digest", VECTORS.items())
def test_hash_matches_the_spec_vectors(message, digest):
    assert deepseek_hash(message).hex() == digest
    assert deepseek_hash_hex(message) == digest  # the fake server's independent reference agrees


def test_solver_finds_the_worst_case_answer():
    assert solve(VECTORS[b"0f1e2d3c4b5a69788796_1767225600000_143999"], "0f1e2d3c4b5a69788796",
                 1767225600000, 144000) == 143999


def test_solver_handles_every_digit_count_and_reports_no_answer():
    for answer in (0, 7, 10, 99, 100, 5000):
        challenge = deepseek_hash_hex(f"s_1_{answer}".encode())
        assert solve(challenge, "s", 1, 6000) == answer
    assert solve(deepseek_hash_hex(b"s_1_6000"), "s", 1, 6000) is None


def test_pow_header_echoes_the_challenge_with_the_answer():
    challenge = {"algorithm": "DeepSeekHashV1", "challenge": "ab", "salt": "s", "difficulty": 10, "expire_at": 1,
                 "expire_after": 5, "signature": "sig", "target_path": "/api/v0/chat/completion"}
    decoded = json.loads(base64.b64decode(pow_response(challenge, 42)))
    assert decoded == {"algorithm": "DeepSeekHashV1", "challenge": "ab", "salt": "s", "answer": 42,
                       "signature": "sig", "target_path": "/api/v0/chat/completion"}


def parse(lines: list) -> tuple[WebStreamParser, str, str]:
    parser = WebStreamParser()
    out = []
    for item in lines:
        event, data = item if isinstance(item, tuple) else (None, item)
        out += parser.feed(SSEEvent(json.dumps(data) if not isinstance(data, str) else data, event))
    texts = [e for e in out if isinstance(e, Text)]
    return parser, "".join(t.reasoning for t in texts), "".join(t.content for t in texts)


def test_patch_stream_with_unknown_events_and_paths():
    parser, reasoning, content = parse([
        ("ready", {"request_message_id": 3, "response_message_id": 4}),
        ("mystery", {"v": "ignored"}),
        {"v": {"response": {"message_id": 4, "thinking_content": "a", "content": "B", "status": "WIP"}}},
        {"p": "response/thinking_content", "v": "b"}, {"v": "c"},
        {"p": "response/new_future_field", "v": "not text"},
        {"p": "response/content", "o": "APPEND", "v": "The word FINISHED "}, {"v": "is text."},
        {"p": "response/conversation_mode", "v": "x"},
        {"p": "response/status", "v": "FINISHED"},
        ("close", {}),
    ])
    assert (reasoning, content) == ("abc", "BThe word FINISHED is text.")
    assert parser.message_id == 4 and parser.finish == "stop" and parser.closed


def test_fragments_follow_the_type_of_the_last_fragment():
    parser, reasoning, content = parse([
        {"p": "response/fragments", "o": "APPEND", "v": [{"type": "THINK", "content": "t1"}]},
        {"p": "response/fragments/-1/content", "v": "t2"}, {"v": "t3"},
        {"p": "response/fragments/-1/status", "v": "FINISHED"},
        {"p": "response/fragments", "o": "APPEND", "v": [{"type": "TIP", "content": "hidden"}]},
        {"p": "response/fragments", "o": "APPEND", "v": [{"type": "RESPONSE", "content": "r1"}]},
        {"p": "response/fragments/-1/content", "v": "r2"},
        {"p": "response", "o": "BATCH", "v": [{"p": "accumulated_token_usage", "v": 9},
                                               {"p": "quasi_status", "v": "INCOMPLETE"}]},
    ])
    assert (reasoning, content, parser.finish) == ("t1t2t3", "r1r2", "length")


def test_legacy_stream():
    parser, reasoning, content = parse([
        {"choices": [{"delta": {"type": "thinking", "content": "hm"}}], "message_id": 8},
        {"choices": [{"delta": {"type": "text", "content": "yes"}}], "message_id": 8},
        {"choices": [{"delta": {"type": "text", "content": ""}, "finish_reason": "stop"}], "message_id": 8},
        "[DONE]",
    ])
    assert (reasoning, content, parser.finish, parser.message_id) == ("hm", "yes", "stop", 8)


@pytest.mark.parametrize("line", [("toast", {"type": "error", "content": "Too busy"}),
                                  {"choices": [{"delta": {}, "finish_reason": "backend_busy"}]}])
def test_toasts_and_busy_backends_are_errors(line):
    with pytest.raises(WebStreamError):
        parse([line])


def test_citations_split_across_pieces_and_sources():
    citations = Citations()
    pieces = ["See [cit", "ation:1", "] and [", "citation:12] or [c", "at]"]
    assert "".join(citations.feed(p) for p in pieces) + citations.flush() == "See [1] and [12] or [cat]"
    assert sources_text([{"url": "u", "title": "T", "cite_index": 3}, {"title": "no url"}]) == "\n\nSources:\n[3] [T](u)"

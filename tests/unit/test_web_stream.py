"""The web chat's current (2026-10) stream grammar: fragment kinds, value shapes, end states and continuation."""

from __future__ import annotations

import json

import pytest

from services.events import Text
from services.providers.deepseek_web.citations import Citations
from services.providers.deepseek_web.stream import WebStreamError, WebStreamParser
from services.sse import SSEEvent


def feed(parser: WebStreamParser, lines: list) -> tuple[str, str]:
    out = []
    for item in lines:
        event, data = item if isinstance(item, tuple) else (None, item)
        out += parser.feed(SSEEvent(json.dumps(data) if not isinstance(data, str) else data, event))
    texts = [e for e in out if isinstance(e, Text)]
    return "".join(t.reasoning for t in texts), "".join(t.content for t in texts)


def parse(lines: list) -> tuple[WebStreamParser, str, str]:
    parser = WebStreamParser()
    return (parser, *feed(parser, lines))


def test_new_fragment_kinds_object_values_and_template_answers():
    parser, reasoning, content = parse([
        ("ready", {"request_message_id": 1, "response_message_id": 2, "model_type": "default"}),
        {"v": {"response": {"message_id": 2, "fragments": [{"type": "THINKING", "content": "a"}], "status": "WIP"}}},
        {"p": "response/fragments/-1/content", "o": "APPEND", "v": {"text": "b"}},
        {"v": {"content": "c"}},
        {"p": "response/fragments", "o": "APPEND", "v": [{"type": "REASONING", "content": "d"}]},
        {"p": "response/fragments", "o": "APPEND", "v": [{"type": "READ_LINK", "content": "hidden"}]},
        {"p": "response/fragments", "o": "APPEND", "v": [{"type": "TEMPLATE_RESPONSE", "content": "X"}]},
        {"p": "response/fragments", "o": "APPEND", "v": [{"type": "RESPONSE", "content": "Y"}]},
        {"p": "response/fragments/-1/content", "v": "Z"},
        {"p": "response/fragments/-2/content", "v": "x"},
        ("finish", {}), ("auto_tts_capability", {"v": "no"}),
        {"p": "response/status", "v": "FINISHED"},
    ])
    assert (reasoning, content, parser.finish, parser.message_id) == ("abcd", "XYZx", "stop", 2)


def test_search_fragments_carry_sources_and_their_text_is_reasoning_side():
    result = {"url": "https://a.example", "title": "A", "snippet": "s", "cite_index": 1}
    parser, reasoning, content = parse([
        {"p": "response/fragments", "o": "APPEND", "v": [{"type": "TOOL_SEARCH", "content": "searching", "results": []}]},
        {"p": "response/fragments/-1/results", "o": "SET", "v": [result]},
        {"p": "response/fragments", "o": "APPEND", "v": [{"type": "TOOL_OPEN", "references": [
            {"url": "https://b.example", "title": "B", "cite_index": 2}]}]},
        {"p": "response/fragments", "o": "APPEND", "v": [{"type": "RESPONSE", "content": "See [reference:1]."}]},
        {"p": "response/status", "v": "FINISHED"},
    ])
    assert (reasoning, content) == ("searching", "See [reference:1].")
    assert [r["url"] for r in parser.search_results] == ["https://a.example", "https://b.example"]


def test_a_pathless_batch_and_set_on_the_fragment_list():
    parser, _, content = parse([
        {"p": "response/fragments", "o": "APPEND", "v": [{"type": "RESPONSE", "content": "He"}]},
        {"v": [{"p": "fragments/-1/content", "v": "llo"}, {"p": "accumulated_token_usage", "v": 3}]},
        # SET re-states the list: text that extends what we have adds only the new part.
        {"p": "response/fragments", "o": "SET", "v": [{"type": "RESPONSE", "content": "Hello!"}]},
        {"p": "response", "o": "BATCH", "v": [{"p": "quasi_status", "v": "FINISHED"}]},
    ])
    assert (content, parser.finish) == ("Hello!", "stop")


def test_a_content_filter_after_a_provisional_finish_wins():
    parser, _, content = parse([
        {"p": "response/fragments", "o": "APPEND", "v": [{"type": "RESPONSE", "content": "Partial"}]},
        {"p": "response", "o": "BATCH", "v": [{"p": "accumulated_token_usage", "v": 9},
                                               {"p": "quasi_status", "v": "FINISHED"}]},
        {"v": [{"p": "ban_regenerate", "v": True}, {"p": "status", "v": "CONTENT_FILTER"},
               {"p": "fragments", "v": [{"type": "TEMPLATE_RESPONSE", "content": "Let's talk about something else."}]}]},
        ("close", {"click_behavior": "none", "auto_resume": False}),
    ])
    assert (content, parser.finish) == ("Partial", "content_filter")
    assert parser.withheld == "Let's talk about something else."  # not appended to text it contradicts


@pytest.mark.parametrize("status, kind", [("CONTEXT_LENGTH_EXCEEDED", "context_length"), ("TIMEOUT", "timeout")])
def test_terminal_statuses_are_errors_of_their_kind(status, kind):
    with pytest.raises(WebStreamError) as caught:
        parse([{"p": "response/fragments", "o": "APPEND", "v": [{"type": "RESPONSE", "content": "a"}]},
               {"p": "response/status", "v": status}])
    assert caught.value.kind == kind


@pytest.mark.parametrize("content, kind", [("rate_limit", "rate_limit"), ("input_exceeds_limit", "input_too_long"),
                                           ("something_new", "toast")])
def test_an_error_hint_is_kept_as_the_outcome_if_no_answer_follows(content, kind):
    parser, _, _ = parse([("hint", {"type": "error", "content": content, "clear_response": True}),
                          ("hint", {"type": "info", "content": "search_quota_low"}), ("close", {})])
    assert parser.hint.kind == kind and parser.closed


@pytest.mark.parametrize("line, kind", [
    (("toast", {"type": "error", "content": "Upgrade", "finish_reason": "unsupported_client_by_model"}),
     "unsupported_client"),
    ({"type": "error", "content": "Upgrade", "finish_reason": "unsupported_client_by_model"}, "unsupported_client"),
    (("toast", {"type": "error", "content": "Server busy"}), "toast"),
])
def test_hints_toasts_and_error_frames(line, kind):
    with pytest.raises(WebStreamError) as caught:
        parse([line])
    assert caught.value.kind == kind


def test_a_cut_answer_is_incomplete_with_its_reason():
    parser, _, content = parse([
        {"p": "response/fragments", "o": "APPEND", "v": [{"type": "RESPONSE", "content": "Once upon"}]},
        {"p": "response/status", "o": "SET", "v": "INCOMPLETE"},
        {"type": "error", "content": "Server is temporarily unavailable.", "finish_reason": "generation_err"},
    ])
    assert (content, parser.finish, parser.cut_reason) == ("Once upon", "length", "generation_err")


def test_a_continue_stream_skips_what_the_cut_stream_already_gave():
    cut, _, first = parse([
        ("ready", {"response_message_id": 7}),
        {"p": "response/fragments", "o": "APPEND", "v": [{"type": "THINK", "content": "hmm"}]},
        {"p": "response/fragments", "o": "APPEND", "v": [{"type": "RESPONSE", "content": "Once up"}]},
        {"p": "response/fragments/-1/content", "v": "on"},
        {"p": "response/status", "v": "INCOMPLETE"},
    ])
    resumed = WebStreamParser(resume=cut)
    reasoning, rest = feed(resumed, [
        ("ready", {"response_message_id": 7}),
        {"v": {"response": {"message_id": 7, "fragments": [{"type": "THINK", "content": "hmm"},
                                                          {"type": "RESPONSE", "content": "Once upon"}]}}},
        {"p": "response/fragments/-1/content", "v": " a time"},
        {"p": "response/status", "v": "FINISHED"},
    ])
    assert (first + rest, reasoning, resumed.finish) == ("Once upon a time", "", "stop")


def test_a_continue_stream_about_a_new_message_trims_nothing():
    cut, _, _ = parse([("ready", {"response_message_id": 7}),
                       {"p": "response/fragments", "o": "APPEND", "v": [{"type": "RESPONSE", "content": "abc"}]},
                       {"p": "response/status", "v": "INCOMPLETE"}])
    resumed = WebStreamParser(resume=cut)
    _, rest = feed(resumed, [("ready", {"response_message_id": 8}),
                             {"v": {"response": {"message_id": 8, "fragments": [{"type": "RESPONSE", "content": "ab"}]}}}])
    assert rest == "ab" and resumed.message_id == 8


def test_citation_and_reference_markers_split_anywhere():
    text = "A [citation:1], B [reference:12] and [refer] or [c"
    for size in range(1, len(text) + 1):
        citations = Citations()
        pieces = [text[i:i + size] for i in range(0, len(text), size)]
        assert "".join(citations.feed(p) for p in pieces) + citations.flush() == "A [1], B [12] and [refer] or [c"


def test_a_cut_followed_by_an_unsupported_client_refusal_is_final():
    with pytest.raises(WebStreamError) as caught:
        parse([{"p": "response/fragments", "o": "APPEND", "v": [{"type": "RESPONSE", "content": "Once"}]},
               {"p": "response/status", "o": "SET", "v": "INCOMPLETE"},
               {"type": "error", "content": "Upgrade", "finish_reason": "unsupported_client_by_model"}])
    assert caught.value.kind == "unsupported_client"


@pytest.mark.parametrize("value", [None, 3, 2.5, True, [], [1, "x", None], {"a": None}, "", {"response": None},
                                   [{"p": None}], [{"p": 5, "v": 1}], {"text": 3}])
@pytest.mark.parametrize("path", [None, "response", "response/fragments", "response/fragments/-1/content",
                                  "response/fragments/7/results", "response/content", "response/status",
                                  "response/fragments/x/content", 42, ["response"]])
def test_odd_values_at_any_path_are_skipped_not_fatal(path, value):
    obj = {"v": value} if path is None else {"p": path, "v": value}
    parser, _, _ = parse([obj, {"p": "response/content", "v": "ok"}])
    assert parser.status is None


@pytest.mark.parametrize("choices", [None, "x", {"delta": 1}, [1, None, {"delta": "x"}, {"delta": {"content": 5}}]])
def test_odd_legacy_choices_are_skipped(choices):
    parser, _, content = parse([{"choices": choices, "message_id": 3},
                                {"choices": [{"delta": {"type": "text", "content": "ok"}, "finish_reason": "stop"}]}])
    assert (content, parser.finish) == ("ok", "stop")

"""The streaming sieve on its own: every accepted variant split at every position, and what is not a call."""

from __future__ import annotations

import json
import logging

import pytest

from services.events import HeldContent, Text, ToolCallDelta
from services.tools.request import ToolRequest
from services.tools.sieve import ToolSieve
from tests.fakes import web_tools as wt

REQUEST = ToolRequest.from_body({"tools": wt.TOOLS})


def sift(pieces: list[str], request: ToolRequest = REQUEST) -> tuple[str, list, list]:
    """Run pieces through a sieve: the content sent on, the calls made, and every event."""
    sieve, events = ToolSieve(request), []
    for piece in pieces:
        events += sieve.feed(piece)
    events += sieve.flush()
    content = "".join(e.content for e in events if isinstance(e, Text))
    calls = [(c.name, json.loads(c.arguments)) for c in sieve.calls]
    return content, calls, events


def every_split(text: str):
    """The text cut in two at each position, then one character at a time."""
    for cut in range(1, len(text)):
        yield [text[:cut], text[cut:]]
    yield list(text)


@pytest.mark.parametrize("variant", list(wt.VARIANTS))
@pytest.mark.parametrize("calls", [wt.ONE_CALL, wt.TWO_CALLS], ids=["one", "two"])
def test_each_variant_split_at_every_position_gives_the_calls_and_only_the_text_before(variant, calls):
    text = wt.call_answer(variant, calls)
    for pieces in every_split(text):
        content, made, _ = sift(pieces)
        assert (content, made) == (wt.said_before(variant), [(n, a) for n, a in calls]), pieces


@pytest.mark.parametrize("name", list(wt.NOT_CALLS))
def test_markup_that_is_not_a_call_arrives_unchanged_at_every_split(name):
    text = wt.NOT_CALLS[name]
    for pieces in every_split(text):
        content, made, _ = sift(pieces)
        assert (content, made) == (text, []), pieces


def test_stream_deltas_carry_index_id_name_then_argument_text():
    _, _, events = sift([wt.call_answer("tool_calls", wt.TWO_CALLS)])
    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    assert [(d.index, d.starts_call, d.name) for d in deltas] == [(0, True, "get_weather"), (0, False, None),
                                                                 (1, True, "to_fahrenheit"), (1, False, None)]
    assert all(d.id.startswith("call_") and len(d.id) == 29 and d.id[5:].isalnum() for d in deltas if d.id)
    assert deltas[0].id != deltas[2].id and deltas[0].arguments == ""


def test_text_before_a_block_streams_at_once_and_the_block_is_held():
    sieve = ToolSieve(REQUEST)
    assert sieve.feed("Sure,\n") == [Text(content="Sure,")]   # the line break waits for what follows
    assert sieve.feed("<tool") == [HeldContent(5)]            # held, but the relay sees progress
    assert "".join(e.content for e in sieve.feed("s> are great")) == "\n<tools> are great"
    assert sieve.feed(" and <tool") == [Text(content=" and <tool")]   # mid-line: a mention, never held


def test_whatever_follows_the_closing_tag_is_dropped():
    content, made, _ = sift([wt.call_answer("tool_calls") + "\n<tool_result>sunny</tool_result> It is sunny."])
    assert (content, made) == (wt.SAID_BEFORE, wt.ONE_CALL)


def test_a_second_block_right_after_the_first_adds_calls():
    text = wt.tag_block(wt.TWO_CALLS[:1]) + "\n" + wt.tag_block(wt.TWO_CALLS[1:])
    assert sift([text])[1] == wt.TWO_CALLS


def test_parallel_tool_calls_false_keeps_the_first_call():
    request = ToolRequest.from_body({"tools": wt.TOOLS, "parallel_tool_calls": False})
    assert sift([wt.call_answer("dsml", wt.TWO_CALLS)], request)[1] == wt.TWO_CALLS[:1]


def test_a_named_choice_accepts_only_that_function():
    request = ToolRequest.from_body({"tools": wt.TOOLS, "tool_choice": {"type": "function",
                                                                        "function": {"name": "to_fahrenheit"}}})
    text = wt.call_answer("tool_calls")
    assert sift([text], request)[:2] == (text, [])
    assert sift([wt.call_answer("tool_calls", wt.TWO_CALLS[1:])], request)[1] == wt.TWO_CALLS[1:]


def test_arguments_that_cannot_match_the_schema_are_text_and_the_log_says_why(caplog):
    text = wt.NOT_CALLS["bad_argument_type"]
    with caplog.at_level(logging.INFO, logger="freeseek"):
        assert sift([text])[:2] == (text, [])
    assert "parameter 'days': expected integer, got text that is not JSON" in caplog.text
    assert "three" not in caplog.text   # arguments are the user's data: never logged


def test_code_after_a_user_fence_is_scanned_again():
    text = "```python\nprint('<tool_calls>')\n```\n" + wt.tag_block(wt.ONE_CALL)
    for pieces in every_split(text):
        assert sift(pieces)[:2] == ("```python\nprint('<tool_calls>')\n```", wt.ONE_CALL), pieces


def test_whitespace_alone_is_never_lost_when_no_call_follows():
    assert sift(["a", " ", "\n", "b", "  "])[0] == "a \nb  "


@pytest.mark.parametrize("fence", ["~~~", "````xml", "```c#", "~~~~ {.xml}"])
def test_any_fence_holding_the_block_alone_is_a_call_at_every_split(fence):
    mark = fence.split(" ")[0].rstrip("xmlc#")
    text = f"Checking.\n{fence}\n{wt.tag_block(wt.ONE_CALL)}\n{mark}"
    for pieces in every_split(text):
        assert sift(pieces)[:2] == ("Checking.", [(n, a) for n, a in wt.ONE_CALL]), pieces

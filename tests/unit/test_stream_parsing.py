"""The SSE reader, the <think> splitter and prompt flattening, on awkward input."""

from __future__ import annotations

import pytest

from services.events import Text
from services.prompt import flatten
from services.sse import read_events
from services.think_tags import ThinkTagSplitter


def split_every(data: bytes, n: int) -> list[bytes]:
    return [data[i:i + n] for i in range(0, len(data), n)]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 1000])
def test_sse_reader_handles_lines_split_anywhere_and_crlf(size):
    wire = ': keep-alive\r\n\r\nevent: ready\r\ndata: {"a": "é中"}\r\n\r\ndata: x\ndata: y\n\ndata: [DONE]'.encode()
    everything = list(read_events(split_every(wire, size)))
    assert everything[0].comment
    events = [e for e in everything if not e.comment]
    assert (events[0].event, events[0].data) == ("ready", '{"a": "é中"}')
    assert events[1].data == "x\ny"
    assert events[2].data == "[DONE]"  # an upstream that ends without the final blank line
    assert len(events) == 3


def test_sse_reader_reports_blank_lines_as_keepalives():
    events = list(read_events([b"\n\n\ndata: 1\n\n"]))
    assert [e.comment for e in events] == [True, True, True, False]


def run_splitter(pieces):
    splitter = ThinkTagSplitter()
    out = [e for p in pieces for e in splitter.feed(p)] + splitter.flush()
    return "".join(e.reasoning for e in out), "".join(e.content for e in out)


@pytest.mark.parametrize("pieces, reasoning, content", [
    (["<think>abc</think>\n\nAnswer"], "abc", "Answer"),
    (["<", "th", "ink>", "a", "b</", "think", ">", "\n", "Ans", "wer"], "ab", "Answer"),
    (["\n<think>x</think>y"], "x", "y"),
    (["No tags <think> here"], "", "No tags <think> here"),
    (["<thi", "s is text"], "", "<this is text"),
    (["<think>never closed"], "never closed", ""),
    ([" ", "\n"], "", " \n"),          # whitespace-only answers are kept
    (["a", " ", "b"], "", "a b"),
    (["<think>a</think>", "  ", "b"], "a", "b"),
])
def test_think_tags_become_reasoning(pieces, reasoning, content):
    assert run_splitter(pieces) == (reasoning, content)


def test_think_splitter_streams_reasoning_without_waiting_for_the_close_tag():
    splitter = ThinkTagSplitter()
    assert splitter.feed("<think>first part") == [Text(reasoning="first part")]
    assert splitter.feed(" and </th") == [Text(reasoning=" and ")]


def test_flatten_uses_deepseek_markers_and_merges_neighbours():
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "image_url"},
                                             {"type": "text", "text": "b"}]},
                {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Bye"}]
    assert flatten(messages) == ("Be brief.<｜User｜>Hi\n\na\nb<｜Assistant｜>Hello<｜end▁of▁sentence｜>"
                                 "<｜User｜>Bye")

"""The sieve's work is linear in the answer's length: a multi-megabyte argument is parsed exactly."""

from __future__ import annotations

import json

from services.tools.request import ToolRequest
from services.tools.sieve import ToolSieve
from tests.fakes import web_tools as wt



def feed(text: str, piece: int, sieve: ToolSieve) -> list:
    events = []
    for i in range(0, len(text), piece):
        events += sieve.feed(text[i:i + piece])
    return events + sieve.flush()


def test_a_two_megabyte_argument_in_small_pieces_is_parsed_exactly_with_linear_work():
    text, content = wt.big_write(2 * 1024 * 1024)
    sieve = ToolSieve(ToolRequest.from_body({"tools": [wt.WRITE]}))
    feed(text, 64, sieve)
    assert [(c.name, json.loads(c.arguments)) for c in sieve.calls] == [("write_file", {"path": "a.py",
                                                                                         "content": content})]
    # Each character is looked at a bounded number of times, however many pieces it came in.
    assert sieve.scanned < 3 * len(text)


def test_text_of_several_megabytes_streams_on_with_linear_work():
    text = ("plain prose, < and { and ` here and there " * 50000)
    sieve = ToolSieve(ToolRequest.from_body({"tools": wt.TOOLS}))
    events = feed(text, 16, sieve)
    assert "".join(e.content for e in events if hasattr(e, "content")) == text
    assert sieve.scanned < 3 * len(text)


BASH = {"type": "function", "function": {"name": "bash", "parameters": {
    "type": "object", "properties": {"command": {"type": "string"}}}}}
BLOCK_HEAD = '<tool_calls>\n<invoke name="bash">\n'


def sifted(text: str, piece: int) -> tuple[str, list, ToolSieve]:
    sieve = ToolSieve(ToolRequest.from_body({"tools": [BASH]}))
    events = feed(text, piece, sieve)
    return ("".join(e.content for e in events if hasattr(e, "content") and e.content),
            [(c.name, json.loads(c.arguments)) for c in sieve.calls], sieve)


def test_lines_each_opening_a_block_that_never_closes_are_text_with_linear_work():
    # Each line opens a block the answer never closes: an unclosed block is text, released once.
    text = '<tool_calls><invoke name="bash"><parameter name="command">x\n' * 2000
    content, calls, sieve = sifted(text, 4)
    assert (content, calls) == (text, [])
    assert sieve.scanned < 4 * len(text)


def test_lines_each_opening_a_block_that_turns_out_broken_are_text_with_linear_work():
    text = '<tool_calls><invoke name="bash"><parameter name="command">x\n' * 2000 + "</parameter><oops>\nEnd."
    content, calls, sieve = sifted(text, 4)
    assert (content, calls) == (text, [])
    assert sieve.scanned < 4 * len(text)


def test_whitespace_between_tags_in_small_pieces_is_read_once():
    text = BLOCK_HEAD + " " * 100000 + '<parameter name="command">ls</parameter>\n</invoke>\n</tool_calls>'
    content, calls, sieve = sifted(text, 4)
    assert (content, calls) == ("", [("bash", {"command": "ls"})])
    assert sieve.scanned < 4 * len(text)


def test_whitespace_after_a_cdata_value_in_small_pieces_is_read_once_and_kept_when_the_value_goes_on():
    text = BLOCK_HEAD + '<parameter name="command"><![CDATA[ls]]>' + " " * 100000 + "</parameter>\n</invoke>\n</tool_calls>"
    content, calls, sieve = sifted(text, 4)
    assert (content, calls) == ("", [("bash", {"command": "ls"})])
    assert sieve.scanned < 4 * len(text)
    # "]]>" that was the value's own: the whitespace after it stays in the value.
    text = BLOCK_HEAD + '<parameter name="command"><![CDATA[a]]>' + " " * 1000 + "b]]></parameter></invoke></tool_calls>"
    assert sifted(text, 4)[:2] == ("", [("bash", {"command": "a]]>" + " " * 1000 + "b"})])


def test_whitespace_alone_in_small_pieces_is_read_once_and_kept():
    text = "Hello" + " \n\t " * 50000 + "world"
    content, calls, sieve = sifted(text, 4)
    assert (content, calls) == (text, [])
    assert sieve.scanned < 4 * len(text)


def test_whitespace_trickling_after_a_fenced_block_or_a_json_object_keeps_the_call():
    fenced = "```xml\n" + BLOCK_HEAD + '<parameter name="command">ls</parameter>\n</invoke>\n</tool_calls>' + \
             " \n" * 20000 + "```" + " \n" * 20000
    whole = '{"tool_calls": [{"name": "bash", "arguments": {"command": "ls"}}]}' + " \n" * 20000
    for text in (fenced, whole):
        assert sifted(text, 4)[:2] == ("", [("bash", {"command": "ls"})])
    # Text after the fence, however far, makes it an example.
    assert sifted(fenced + "That is the syntax.", 4)[:2] == (fenced + "That is the syntax.", [])

"""The drift corpus through the sieve: every spelling of the DSML family is a call, split anywhere; every
look-alike stays text, whole. Split points are sampled here; the benchmark runs every one."""

from __future__ import annotations

import json
import random

import pytest

from services.events import Text
from services.tools.markup import parse_block
from services.tools.request import ToolRequest
from services.tools.sieve import ToolSieve
from tests.fakes import drift

REQUEST = ToolRequest.from_body({"tools": drift.TOOLS})
CALL_CASES = drift.call_cases()
LOOK_ALIKES = drift.look_alikes()


def sift(pieces: list[str]) -> tuple[str, list]:
    sieve, events = ToolSieve(REQUEST), []
    for piece in pieces:
        events += sieve.feed(piece)
    events += sieve.flush()
    return "".join(e.content for e in events if isinstance(e, Text)), [(c.name, json.loads(c.arguments))
                                                                        for c in sieve.calls]


def sampled_splits(text: str, seed: str):
    """The text whole, cut in two at three random places, and in pieces of three characters."""
    rng = random.Random(seed)
    yield [text]
    for cut in rng.sample(range(1, len(text)), 3):
        yield [text[:cut], text[cut:]]
    yield [text[i:i + 3] for i in range(0, len(text), 3)]


def test_the_corpus_covers_every_spelling_pair_block_name_call_count_value_form_and_indentation():
    assert len(CALL_CASES) == len(drift.PREFIXES) ** 2 * 2 * 3 * 2 * 2
    assert len(LOOK_ALIKES) >= 80


@pytest.mark.parametrize("spelling", range(len(drift.spellings())))
def test_every_spelling_split_anywhere_gives_the_calls_typed_and_the_text_before(spelling):
    for case in [c for c in CALL_CASES if c.name.startswith(f"s{spelling}/")]:
        for pieces in sampled_splits(case.text, case.name):
            assert sift(pieces) == (case.before, case.calls), (case.name, pieces)


@pytest.mark.parametrize("case", LOOK_ALIKES, ids=lambda c: c.name)
def test_look_alikes_stay_text_whole_split_anywhere(case):
    for pieces in sampled_splits(case.text, case.name):
        assert sift(pieces) == (case.text, []), pieces


def test_the_whole_block_parser_reads_the_same_grammar():
    for case in CALL_CASES[::7]:
        parsed = parse_block(case.text[len(case.before):])
        assert [c.name for c in parsed] == [name for name, _ in case.calls], case.name


def test_cdata_values_are_typed_by_the_schema_and_strings_stay_byte_exact():
    text = ('<｜DSML｜tool_calls>\n<｜DSML｜invoke name="write_file">\n'
            '<｜DSML｜parameter name="path"><![CDATA[30]]></｜DSML｜parameter>\n'
            '<｜DSML｜parameter name="content"><![CDATA[ a ]]> b\n\t"q" \\ ]]></｜DSML｜parameter>\n'
            '<｜DSML｜parameter name="append"><![CDATA[true]]></｜DSML｜parameter>\n'
            '</｜DSML｜invoke>\n<｜DSML｜invoke name="get_weather">\n'
            '<｜DSML｜parameter name="city" string="true">"Paris"</｜DSML｜parameter>\n'
            '<｜DSML｜parameter name="days"><![CDATA[30]]></｜DSML｜parameter>\n'
            '</｜DSML｜invoke>\n</｜DSML｜tool_calls>')
    assert sift([text])[1] == [("write_file", {"path": "30", "content": ' a ]]> b\n\t"q" \\ ', "append": True}),
                               ("get_weather", {"city": '"Paris"', "days": 30})]


def test_array_and_object_parameters_are_parsed_when_the_schema_says_so():
    tool = {"type": "function", "function": {"name": "tag", "parameters": {"type": "object", "properties": {
        "labels": {"type": "array", "items": {"type": "string"}}, "meta": {"type": "object"},
        "note": {"type": "string"}}}}}
    text = ('<DSML|tool_calls>\n<invoke name="tag">\n<parameter name="labels"><![CDATA[["a", "b"]]]></parameter>\n'
            '<parameter name="meta">{"k": 1}</parameter>\n<parameter name="note"><![CDATA[[1, 2]]]></parameter>\n'
            '</invoke>\n</DSML|tool_calls>')
    sieve = ToolSieve(ToolRequest.from_body({"tools": [tool]}))
    sieve.feed(text)
    sieve.flush()
    assert json.loads(sieve.calls[0].arguments) == {"labels": ["a", "b"], "meta": {"k": 1}, "note": "[1, 2]"}

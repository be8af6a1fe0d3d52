"""A generated corpus of DeepSeek's drifting tool-call markup: every separator spelling on every tag (opening
and closing spelled apart), both block names, 1-3 calls, CDATA or plain values, flat or indented; and the
look-alikes (mentions, code, HTML, unknown tools) that must stay text. Used by the tests and the benchmark."""

from __future__ import annotations

import json
from dataclasses import dataclass

from tests.fakes.web_tools import TOOLS as WEATHER_TOOLS

WRITE = {"type": "function", "function": {
    "name": "write_file", "description": "Write a text file.",
    "parameters": {"type": "object", "properties": {"path": {"type": "string"}, "content": {"type": "string"},
                                                    "append": {"type": "boolean"}}, "required": ["path", "content"]}}}
TOOLS = WEATHER_TOOLS + [WRITE]

# How the model spells what stands before a tag's name: nothing, DSML between bars (fullwidth or ASCII),
# on one side, on none, with spaces; a leading space after "<" too.
PREFIXES = ["", "｜DSML｜", "DSML｜", "｜DSML", "DSML", "|DSML|", "| DSML |", " ｜ DSML ｜ "]
BLOCK_NAMES = ("tool_calls", "function_calls")
CODE = '\n  def f(x):\n    return "a < b" + \'\\\\n\' + "]]" if x else {\'k\': [1, 2]}\n'
SAID_BEFORE = "Let me do that."
CALLS = [("get_weather", {"city": "Paris", "days": 3}),
         ("write_file", {"path": "src/f.py", "content": CODE, "append": False}),
         ("to_fahrenheit", {"celsius": 21.5})]
PLAIN_CALLS = [CALLS[0], ("write_file", {"path": "src/f.py", "content": 'x = "1 < 2"\tand \\\\ y', "append": True}),
               CALLS[2]]


@dataclass(frozen=True)
class Case:
    """One answer of the corpus: its text, and the calls it makes (None: it is text and must arrive whole)."""

    name: str
    text: str
    calls: list | None
    before: str = SAID_BEFORE


def spell(tag: str, prefix: str, closing: bool = False, attributes: str = "") -> str:
    """One tag, its prefix spelled `prefix`."""
    return f"<{'/' if closing else ''}{prefix}{tag}{attributes}>"


def block(calls: list, spelling: tuple, name: str = "tool_calls", cdata: bool = False, indent: str = "") -> str:
    """Calls in the markup, each of the six tags spelled with its own prefix from `spelling`."""
    block_open, block_close, invoke_open, invoke_close, param_open, param_close = spelling
    lines = [spell(name, block_open)]
    for tool, arguments in calls:
        lines.append(indent + spell("invoke", invoke_open, attributes=f' name="{tool}"'))
        for key, value in arguments.items():
            text = value if isinstance(value, str) else json.dumps(value)
            marked = f' string="{"true" if isinstance(value, str) else "false"}"' if "DSML" in param_open else ""
            text = f"<![CDATA[{text}]]>" if cdata else text
            lines.append(indent * 2 + spell("parameter", param_open, attributes=f' name="{key}"{marked}') + text +
                         spell("parameter", param_close, closing=True))
        lines.append(indent + spell("invoke", invoke_close, closing=True))
    lines.append(spell(name, block_close, closing=True))
    return "\n".join(lines)


def spellings() -> list[tuple]:
    """Every (opening, closing) pair of block prefixes; the inner tags take the other spellings in turn."""
    n = len(PREFIXES)
    return [(PREFIXES[a], PREFIXES[b], PREFIXES[(a + 1) % n], PREFIXES[(b + 3) % n], PREFIXES[(a + 5) % n],
             PREFIXES[(b + 2) % n]) for a in range(n) for b in range(n)]


def call_cases() -> list[Case]:
    """Every spelling x block name x 1-3 calls x CDATA or not x flat or indented."""
    cases = []
    for i, spelling in enumerate(spellings()):
        for name in BLOCK_NAMES:
            for count in (1, 2, 3):
                for cdata in (False, True):
                    calls = (CALLS if cdata else PLAIN_CALLS)[:count]
                    for indent in ("", "  "):
                        text = SAID_BEFORE + "\n" + block(calls, spelling, name, cdata, indent)
                        cases.append(Case(f"s{i}/{name}/{count}/{'cdata' if cdata else 'plain'}/"
                                          f"{'indented' if indent else 'flat'}", text, calls))
    return cases


def look_alikes() -> list[Case]:
    """Markup in each spelling that is shown, quoted, coded or incomplete: never a call."""
    cases = []
    for i, spelling in enumerate(spellings()[::9]):
        for name in BLOCK_NAMES:
            whole = block(CALLS[:1], spelling, name)
            one_line = whole.replace("\n", "")
            opener = spell(name, spelling[0])
            texts = {
                "inline_code": f"You could write `{one_line}` yourself; I will not run it.",
                "in_a_sentence": f"The reply {one_line} would ask for Paris, but I will not run it.",
                "quoted": "As you wrote:\n" + "\n".join("> " + line for line in whole.split("\n")) + "\nDone.",
                "fence_with_code": f"Like this:\n```xml\n<reply>\n{whole}\n</reply>\n```\nThat is all.",
                "fenced_then_text": f"For example:\n```\n{whole}\n```\nwould ask for Paris.",
                "html": f'<div class="{name}">\n  <span>{name}</span>\n</div>',
                "prose_naming_the_tag": f"{opener} is how I would call a tool; none is needed here.",
                "unknown_tool": block([("launch_rocket", {"target": "moon"})], spelling, name),
                "incomplete": SAID_BEFORE + "\n" + whole[:len(whole) // 2],
                "json_in_a_sentence": 'An example: {"tool_calls": [{"name": "get_weather", "arguments": '
                                      '{"city": "Paris"}}]} and nothing more.',
            }
            cases += [Case(f"s{i * 9}/{name}/{kind}", text, None) for kind, text in texts.items()]
    return list({case.text: case for case in cases}.values())

"""Tool-calling answers for the fake web chat: each markup variant the gateway accepts, answers that only
look like calls, and a scripted model that works a two-tool task. Each builds `text(prompt) -> pieces`."""

from __future__ import annotations

import json
import re
from typing import Callable

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather of a city, in degrees Celsius.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                   "required": ["city"]}}}
FAHRENHEIT = {"type": "function", "function": {
    "name": "to_fahrenheit", "description": "Convert degrees Celsius to Fahrenheit.",
    "parameters": {"type": "object", "properties": {"celsius": {"type": "number"}}, "required": ["celsius"]}}}
TOOLS = [WEATHER, FAHRENHEIT]

ONE_CALL = [("get_weather", {"city": "Paris", "days": 3})]
TWO_CALLS = [("get_weather", {"city": "Paris", "days": 3}), ("to_fahrenheit", {"celsius": 21.5})]
SAID_BEFORE = "Let me look that up."
# A file-writing tool and an answer calling it with `size` characters of code (with the markup's own
# characters, quotes and backslashes): large arguments in the sieve's tests and benchmark.
WRITE = {"type": "function", "function": {"name": "write_file", "parameters": {
    "type": "object", "properties": {"path": {"type": "string"}, "content": {"type": "string"}}}}}


def big_write(size: int) -> tuple[str, str]:
    """An answer writing `size` characters of code to a file, and that code."""
    line = 'if a < b and c > d: print("<x>", \'\\\\\', b)\n'
    content = (line * (size // len(line) + 1))[:size]
    return ("Writing it.\n<tool_calls>\n<invoke name=\"write_file\">\n<parameter name=\"path\">a.py</parameter>\n"
            f"<parameter name=\"content\"><![CDATA[{content}]]></parameter>\n</invoke>\n</tool_calls>"), content


# What may never reach a client as content when the answer was a call.
MARKUP_SIGNS = ("<tool_calls", "<function_calls", "invoke", "parameter", "DSML", "```", '"tool_calls"', "</", "<｜")


def tag_block(calls: list, wrapper: str = "tool_calls", dsml: bool = False) -> str:
    """Calls in the XML-ish markup, optionally with DeepSeek's DSML prefixes."""
    p = "｜DSML｜" if dsml else ""
    lines = [f"<{p}{wrapper}>"]
    for name, arguments in calls:
        lines.append(f'<{p}invoke name="{name}">')
        for key, value in arguments.items():
            text = value if isinstance(value, str) else json.dumps(value)
            string = (' string="true"' if isinstance(value, str) else ' string="false"') if dsml else ""
            lines.append(f'<{p}parameter name="{key}"{string}>{text}</{p}parameter>')
        lines.append(f"</{p}invoke>")
    lines.append(f"</{p}{wrapper}>")
    return "\n".join(lines)


def json_block(calls: list) -> str:
    """Calls as the JSON object variant."""
    return json.dumps({"tool_calls": [{"name": n, "arguments": a} for n, a in calls]})


def fenced(block: str, language: str) -> str:
    """A block wrapped in a fence and nothing else."""
    return f"```{language}\n{block}\n```"


VARIANTS: dict[str, Callable[[list], str]] = {
    "tool_calls": tag_block,
    "function_calls": lambda calls: tag_block(calls, "function_calls"),
    "dsml": lambda calls: tag_block(calls, "function_calls", dsml=True),
    "json": json_block,
    "fenced_xml": lambda calls: fenced(tag_block(calls), "xml"),
    "fenced_plain": lambda calls: fenced(tag_block(calls), ""),
    "fenced_json": lambda calls: fenced(json_block(calls), "json"),
}


def said_before(variant: str) -> str:
    """The text an answer in `variant` says before its calls (a bare JSON object stands alone)."""
    return "" if variant == "json" else SAID_BEFORE


def call_answer(variant: str, calls: list = ONE_CALL, before: str | None = None) -> str:
    """A whole answer: text said before, then the calls in one variant."""
    before = said_before(variant) if before is None else before
    return (before + "\n" if before else "") + VARIANTS[variant](calls)


# Answers that hold markup but make no call: each must reach the client unchanged.
NOT_CALLS = {
    "code_fence_with_other_code": "Here is how a reply looks:\n```xml\n<reply>\n" + tag_block(ONE_CALL) +
                                  "\n</reply>\n```\nThat is all.",
    "fenced_example_then_text": "For example:\n" + fenced(tag_block(ONE_CALL), "xml") + "\nwould ask for Paris.",
    "unknown_tool": tag_block([("launch_rocket", {"target": "moon"})]),
    "incomplete_block": "Calling now:\n<tool_calls>\n<invoke name=\"get_weather\">\n<parameter name=\"city\">Par",
    "prose_naming_the_tag": "The <tool_calls> tag is how I call tools; I need none here.",
    "json_code": 'Config: {"tools": [1, 2], "tool": "x"} and {"a": {"b": [1]}}',
    "html": "Use <b>bold</b> and <i>italics</i>; `x < y` holds, {braces} too.",
    "bad_argument_type": tag_block([("get_weather", {"city": "Paris", "days": "three"})]),
    # Mentions: markup shown in a sentence, a code span, a quote or an example is never a call.
    "inline_code_mid_sentence": "One would write `" + tag_block(ONE_CALL).replace("\n", "") +
                                "` to ask; I will not run it.",
    "quoted_in_prose": 'The reply "' + tag_block(ONE_CALL).replace("\n", "") + '" asks for Paris; I will not run it.',
    "blockquote": "You wrote:\n" + "\n".join("> " + line for line in tag_block(ONE_CALL).split("\n")) +
                  "\nI will not run it.",
    "blockquote_one_line": "You wrote:\n> " + tag_block(ONE_CALL).replace("\n", "") + "\nI will not run it.",
    "json_in_a_sentence": "An example is " + json_block(ONE_CALL) + " and I will not run it.",
    "json_example_then_text": "For example:\n" + json_block(ONE_CALL) + "\nI will not run it.",
    # Fences as CommonMark has them: any info string, tildes, longer markers, CRLF; the code inside is text.
    "fence_info_with_symbols": "```c#\nvar x = 1;\n" + tag_block(ONE_CALL) + "\n```\nThat is the snippet.",
    "fence_info_with_attributes": '```python title="a.py"\nimport os\n' + tag_block(ONE_CALL) + "\n```\nDone.",
    "fence_info_with_braces": "```js {1,3}\nlet a;\n" + tag_block(ONE_CALL) + "\n```\nEnd.",
    "fence_info_after_a_space": "``` xml\nfoo\n" + tag_block(ONE_CALL) + "\n```\nEnd.",
    "fence_crlf": ("```xml\nfoo\n" + tag_block(ONE_CALL) + "\n```\nEnd.").replace("\n", "\r\n"),
    "fence_of_tildes": "~~~xml\nfoo\n" + tag_block(ONE_CALL) + "\n~~~\nEnd.",
    "fence_of_four_backticks": "````md\nfoo\n" + tag_block(ONE_CALL) + "\n````\nEnd.",
    "fence_not_closed_by_a_line_with_an_info_string": "```markdown\nA nested fence:\n```xml\n" +
                                                      tag_block(ONE_CALL) + "\n```\n```\nThat was documentation.",
    "fence_not_closed_by_backticks_then_text": "```text\nfoo\n``` not a close\n" + tag_block(ONE_CALL) +
                                               "\n```\nThat was documentation.",
    "fence_of_four_not_closed_by_three": "````\n```\n" + tag_block(ONE_CALL) + "\n```\nnot a close\n````\nEnd.",
    # Code that is not fenced: an indented code block and an HTML <pre> element.
    "indented_code_block": "Example:\n\n" + "\n".join("    " + line for line in tag_block(ONE_CALL).split("\n")) +
                           "\n\nDo not run it.",
    "indented_code_block_with_a_tab": "Example:\n\n" + "\n".join("\t" + line for line in tag_block(ONE_CALL).split("\n")),
    "html_pre": "<pre>\n" + tag_block(ONE_CALL) + "\n</pre>\nThat is the syntax.",
}
FENCES = [name for name in NOT_CALLS if name.startswith("fence_")]


def split_at(text: str, *positions: int) -> Callable[[str], list[str]]:
    """Answer `text` in pieces cut at the given positions, whatever the prompt."""
    cuts = [0, *sorted(positions), len(text)]
    return lambda prompt: [text[a:b] for a, b in zip(cuts, cuts[1:]) if b > a] or [""]


def has_tool_block(prompt: str) -> bool:
    """Tell whether a prompt holds the gateway's tool block."""
    return "# Tools" in prompt and "<tool_calls>" in prompt


_RESULT = re.compile(r'<tool_result name="([^"]*)" id="([^"]*)">\n(.*?)\n</tool_result>', re.S)


def weather_agent(prompt: str) -> list[str]:
    """A model working "the weather in Paris, in Fahrenheit" with two tools, one round at a time.

    It decides from the prompt alone, as the web chat sees it: a continued session gets only the new
    turn, so the latest tool result says which step comes next.
    """
    results = _RESULT.findall(prompt)
    if not results:
        if not has_tool_block(prompt):
            return ["I have no tools for that."]
        return _pieces("I will check the weather first.\n" + tag_block([("get_weather", {"city": "Paris"})]))
    name, _, content = results[-1]
    if name == "get_weather":
        celsius = float(re.search(r"-?\d+(\.\d+)?", content).group())
        return _pieces(tag_block([("to_fahrenheit", {"celsius": celsius})]))
    return _pieces(f"It is {content.strip()} °F in Paris.")


def _pieces(text: str, size: int = 7) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)]

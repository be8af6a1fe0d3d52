"""The tool-call markup the web chat is asked for, the variants models drift into, and their parser."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from services.tools.schema import RawText

WS = object()   # a token of the opening patterns: any run of whitespace, possibly empty
_DSML = ("", "｜DSML｜", "|DSML|")
_BLOCK_NAMES = ("tool_calls", "function_calls")
# Openers as token sequences, so a prefix of one (a tag split across chunks) can be recognised.
TAG_OPENERS = [["<" + dsml + name, WS, ">"] for dsml in _DSML for name in _BLOCK_NAMES]
JSON_OPENER = ["{", WS, '"tool_calls"', WS, ":"]
_P = r"(?:[|｜]\s*DSML\s*[|｜])?"
TAG_CLOSER = re.compile(r"<\s*/\s*" + _P + r"(?:tool_calls|function_calls)\s*>")
CLOSER_MAX = 40   # no closer spelling is longer: where to resume a search for one
FENCE_LINE = re.compile(r"```[\w+.-]*[ \t]*\n")
_OPEN_TAG = re.compile(r"\A\s*<\s*" + _P + r"(?:tool_calls|function_calls)\s*>")
_INVOKE = re.compile(r"<\s*" + _P + r"invoke\s+name\s*=\s*([\"'])(.*?)\1\s*>(.*?)<\s*/\s*" + _P + r"invoke\s*>", re.S)
_PARAMETER = re.compile(r"<\s*" + _P + r"parameter\s+((?:\w+\s*=\s*(?:\"[^\"]*\"|'[^']*')\s*)+)>(.*?)"
                        r"<\s*/\s*" + _P + r"parameter\s*>", re.S)
_ATTRIBUTE = re.compile(r"(\w+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_CDATA = re.compile(r"\A<!\[CDATA\[(.*)\]\]>\Z", re.S)


class MarkupError(ValueError):
    """A block that looked like tool calls but is not one; the message says why (for the log)."""


@dataclass
class ParsedCall:
    """One call as the model wrote it: a name and its arguments (RawText values from markup)."""

    name: str
    arguments: dict


def match_prefix(text: str, tokens: list) -> int | None:
    """The length of `text` the pattern covers when it matches fully; -1 while `text` may still become a
    match (it ends inside the pattern); None when it cannot."""
    pos = 0
    for i, token in enumerate(tokens):
        if token is WS:
            while pos < len(text) and text[pos].isspace():
                pos += 1
            continue
        if pos >= len(text):
            return -1
        piece = text[pos:pos + len(token)]
        if not token.startswith(piece):
            return None
        if len(piece) < len(token):
            return -1
        pos += len(token)
    return pos


def opener_at(text: str) -> tuple[str, int] | None | int:
    """Classify `text` by how it starts: ("tag"|"json", length) for a whole opener, -1 for a possible
    start of one, None otherwise."""
    partial = False
    for kind, patterns in (("tag", TAG_OPENERS), ("json", [JSON_OPENER])):
        for tokens in patterns:
            end = match_prefix(text, tokens)
            if end == -1:
                partial = True
            elif end is not None:
                return kind, end
    return -1 if partial else None


def parse_block(text: str) -> list[ParsedCall]:
    """Parse one whole block (optionally fenced) into calls; raise MarkupError when it is not one."""
    body = text.strip()
    if body.startswith("```"):
        line = FENCE_LINE.match(body)
        if not line:
            raise MarkupError("a fence without a line break after it")
        body = body[line.end():].rstrip()
        body = body[:-3].rstrip() if body.endswith("```") else body
    if body.startswith("{"):
        return _parse_json(body)
    opener = _OPEN_TAG.match(body)
    closer = TAG_CLOSER.search(body, opener.end()) if opener else None
    if not closer:
        raise MarkupError("no complete <tool_calls> block")
    if body[closer.end():].strip():
        raise MarkupError("text after the block")
    inner = body[opener.end():closer.start()]
    calls, pos = [], 0
    for invoke in _INVOKE.finditer(inner):
        if inner[pos:invoke.start()].strip():
            raise MarkupError("text between the calls of a block")
        calls.append(ParsedCall(invoke.group(2).strip(), _parameters(invoke.group(3))))
        pos = invoke.end()
    if inner[pos:].strip() or not calls:
        raise MarkupError("text inside the block that is not a call" if calls else "a block without calls")
    return calls


def _parameters(body: str) -> dict:
    """The parameters of one invoke: <parameter> tags, or a JSON object as its whole body."""
    values, pos = {}, 0
    for parameter in _PARAMETER.finditer(body):
        if body[pos:parameter.start()].strip():
            raise MarkupError("text between the parameters of a call")
        attributes = {m.group(1): m.group(2) if m.group(2) is not None else m.group(3)
                      for m in _ATTRIBUTE.finditer(parameter.group(1))}
        if "name" not in attributes:
            raise MarkupError("a parameter without a name")
        value = parameter.group(2)
        cdata = _CDATA.match(value.strip())
        value = cdata.group(1) if cdata else _trim_newlines(value)
        # DSML's string="true" marks a value that is text whatever it looks like.
        values[attributes["name"]] = value if attributes.get("string") == "true" else RawText(value)
        pos = parameter.end()
    rest = body[pos:].strip()
    if rest and not values:
        try:
            whole = json.loads(rest)
        except ValueError:
            raise MarkupError("a call whose body is neither parameters nor a JSON object") from None
        if not isinstance(whole, dict):
            raise MarkupError("a call whose body is JSON but not an object")
        return whole
    if rest:
        raise MarkupError("text after the parameters of a call")
    return values


def _trim_newlines(value: str) -> str:
    """A value written on its own lines loses those line breaks, nothing else (code keeps its indent)."""
    if value.startswith("\n"):
        value = value[1:]
    elif value.startswith("\r\n"):
        value = value[2:]
    return value[:-1] if value.endswith("\n") else value


def _parse_json(body: str) -> list[ParsedCall]:
    try:
        data = json.loads(body)
    except ValueError:
        raise MarkupError("a {\"tool_calls\": ...} object that is not valid JSON") from None
    items = data.get("tool_calls") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items or set(data) != {"tool_calls"}:
        raise MarkupError("a {\"tool_calls\": ...} object without a list of calls")
    calls = []
    for item in items:
        function = item.get("function") if isinstance(item, dict) and isinstance(item.get("function"), dict) else item
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise MarkupError("a JSON call without a name")
        arguments = function.get("arguments", function.get("parameters", {}))
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except ValueError:
                raise MarkupError("JSON call arguments that are not JSON") from None
        if not isinstance(arguments, dict):
            raise MarkupError("JSON call arguments that are not an object")
        calls.append(ParsedCall(function["name"], arguments))
    return calls


def render_calls(calls: list[tuple[str, str]]) -> str:
    """Write calls (name, JSON arguments text) in the markup the prompt asks for, for history going up."""
    lines = ["<tool_calls>"]
    for name, arguments in calls:
        lines.append(f'<invoke name="{name}">')
        try:
            values = json.loads(arguments) if arguments and arguments.strip() else {}
        except ValueError:
            values = None
        if isinstance(values, dict):
            for key, value in values.items():
                text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                lines.append(f'<parameter name="{key}">{text}</parameter>')
        else:
            lines.append(arguments)  # what the client sent, though it is not a JSON object
        lines.append("</invoke>")
    lines.append("</tool_calls>")
    return "\n".join(lines)

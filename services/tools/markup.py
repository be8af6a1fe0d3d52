"""The tool-call markup the web chat is asked for, where a block may stand, and the whole-block parser."""

from __future__ import annotations

import json
from dataclasses import dataclass

import regex

from services.tools.dsml import BLOCK_OPEN, JSON_OPEN, TAG_MAX, BlockReader, MarkupError, ParsedCall

__all__ = ["MarkupError", "ParsedCall", "Fence", "Pre", "opening", "fence_at", "fence_opening", "pre_opening", "parse_block", "render_calls"]

_OPENING = regex.compile(rf"(?P<tag>{BLOCK_OPEN})|(?P<json>{JSON_OPEN})")
_BODY = regex.compile(rf"\s*(?:(?P<tag>{BLOCK_OPEN})|(?P<json>{JSON_OPEN}))")
# A fence as CommonMark has it: 3+ backticks (an info string without backticks) or 3+ tildes (any info string).
_FENCE_MARK = regex.compile(r"`{3,}|~{3,}")
_FENCE_INFO = {"`": regex.compile(r"[^`\n]*\n"), "~": regex.compile(r"[^\n]*\n")}


@dataclass(frozen=True)
class Fence:
    """An opening fence line: its marker (such as "```" or "~~~~") and the line's length with its break."""

    mark: str
    length: int

    def closing(self) -> regex.Pattern:
        """A line that closes this fence: the same character, at least as many, nothing after but spaces."""
        return regex.compile(rf"[ \t]*{regex.escape(self.mark[0])}{{{len(self.mark)},}}[ \t\r]*\n")

    def closing_after_block(self) -> regex.Pattern:
        """The fence's close right after a block it wraps (the rest of the answer may follow)."""
        return regex.compile(rf"\s*{regex.escape(self.mark[0])}{{{len(self.mark)},}}[ \t\r]*(?=\n|\Z)")


def opening(text: str, pos: int, json_too: bool):
    """Classify text that begins a line: "tag" or "json" when a block opens there, -1 while it may still
    become one, None when it cannot."""
    match = _OPENING.match(text, pos, partial=True)
    if match is None:
        return None
    if match.partial:
        return -1 if len(text) - pos < TAG_MAX else None
    kind = "tag" if match.group("tag") else "json"
    return kind if kind == "tag" or json_too else None


def fence_at(text: str, pos: int):
    """The fence line starting at `pos`: a Fence, -1 while the text may still become one, or None."""
    mark = _FENCE_MARK.match(text, pos)
    if mark is None:
        rest = text[pos:]
        return -1 if len(rest) < 3 and rest and rest in ("`" * len(rest), "~" * len(rest)) else None
    if mark.end() == len(text):
        return -1
    info = _FENCE_INFO[mark.group()[0]].match(text, mark.end(), partial=True)
    if info is None:
        return None   # a backtick after the marker: inline code, not a fence
    if info.partial:
        # A fence line longer than a tag is still a fence: its code begins where the line has gone so far.
        return -1 if len(text) - pos < TAG_MAX else Fence(mark.group(), mark.end() - pos)
    return Fence(mark.group(), info.end() - pos)


class Pre:
    """An HTML <pre> element begun at a line's start: code until the line that closes it."""

    _CLOSING = regex.compile(r"[^\n]*</pre\s*>[^\n]*\n", regex.IGNORECASE)
    length = 0   # the opening line is the element's own: it may close it too

    def closing(self) -> regex.Pattern:
        """A line holding the element's end tag."""
        return self._CLOSING


_PRE = regex.compile(r"<pre[\s>]", regex.IGNORECASE)


def pre_opening(text: str, pos: int):
    """("code", None, Pre) when the line at `pos` begins a <pre> element, -1 while undecided, else None."""
    match = _PRE.match(text, pos, partial=True)
    if match is None:
        return None
    return -1 if match.partial else ("code", None, Pre())


def fence_opening(text: str, pos: int):
    """Classify text that begins a line with a fence character: ("fence", kind, Fence) for a fence opening
    a block, ("code", None, Fence) for a fence holding something else, -1 while undecided, None otherwise."""
    fence = fence_at(text, pos)
    if fence is None or fence == -1:
        return fence
    if text[pos + fence.length - 1] != "\n":
        return "code", None, fence
    body = _BODY.match(text, pos + fence.length, partial=True)
    if body is not None and not body.partial:
        return "fence", "tag" if body.group("tag") else "json", fence
    if body is not None and len(text) - pos < TAG_MAX:
        return -1
    return "code", None, fence


class JsonReader:
    """Find the end of a {"tool_calls": ...} object piece by piece (the interface of BlockReader)."""

    _NEXT = regex.compile(r'["{}\[\]]')
    _IN_STRING = regex.compile(r'["\\]')

    def __init__(self):
        self.done, self.end, self.scanned = False, 0, 0
        self._parts: list[str] = []
        self._depth, self._in_string, self._escaped, self._taken = 0, False, False, 0
        self.rest = ""

    def feed(self, text: str) -> None:
        """Read the next piece of the object."""
        if self.done:
            self.rest += text
            return
        self.scanned += len(text)
        pos = 0
        while pos < len(text):
            if self._escaped:
                self._escaped, pos = False, pos + 1
                continue
            found = (self._IN_STRING if self._in_string else self._NEXT).search(text, pos)
            if not found:
                break
            char, pos = found.group(), found.end()
            if self._in_string:
                self._escaped, self._in_string = char == "\\", char != '"'
            elif char == '"':
                self._in_string = True
            else:
                self._depth += 1 if char in "{[" else -1
                if self._depth == 0:
                    self._parts.append(text[:pos])
                    self.done, self.end, self.rest = True, self._taken + pos, text[pos:]
                    return
        self._parts.append(text)
        self._taken += len(text)

    def finish(self) -> list[ParsedCall]:
        """The object's calls; MarkupError if it never closed or is no list of calls."""
        if not self.done:
            raise MarkupError("the block is incomplete")
        return _parse_json("".join(self._parts))


def parse_block(text: str) -> list[ParsedCall]:
    """Parse one whole block (optionally alone in a fence) into calls; raise MarkupError when it is not one."""
    body = text.strip()
    fence = fence_at(body, 0) if body[:1] in "`~" else None
    if fence is not None:
        if not isinstance(fence, Fence) or body[fence.length - 1] != "\n":
            raise MarkupError("a fence without a line break after it")
        body = body[fence.length:].rstrip()
        if not body.endswith(fence.mark):
            raise MarkupError("a fence that does not close")
        body = body[:-len(fence.mark)].rstrip()
    if body.startswith("{"):
        return _parse_json(body)
    reader = BlockReader()
    reader.feed(body)
    calls = reader.finish()
    if reader.rest.strip():
        raise MarkupError("text after the block")
    return calls


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

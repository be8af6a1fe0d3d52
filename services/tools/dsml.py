"""The tool-call tags as one small grammar (the gateway's own spelling and DeepSeek's drifting DSML one),
and an incremental reader of one block, shared by the streaming sieve and the whole-answer parser.

    tag    := "<" [ "/" ] prefix name attribute* [ "/" ] ">"        (spaces allowed between the parts)
    prefix := [ bar ] [ "DSML" ] [ bar ]                             bar := "|" | "｜" (U+FF5C)
    name   := "tool_calls" | "function_calls" | "invoke" | "parameter"
    block  := open(tool_calls|function_calls) invoke+ close(tool_calls|function_calls)
    invoke := open(invoke, name=...) ( parameter* | JSON object ) close(invoke)
    parameter := open(parameter, name=... [string=...]) ( CDATA+ | text ) close(parameter)

Each tag may spell its prefix differently; opening and closing tags need not match in spelling.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import regex

from services.tools.schema import RawText, Verbatim

_PREFIX = r"(?:[|｜]\s*)?(?:(?i:dsml)\s*)?(?:[|｜]\s*)?"
_ATTRIBUTES = r"(?P<attrs>(?:\s+[\w-]+\s*=\s*(?:\"[^\"]*\"|'[^']*'))*)"
TAG = regex.compile(r"<\s*(?P<close>/)?\s*" + _PREFIX + r"(?P<name>tool_calls|function_calls|invoke|parameter)"
                    + _ATTRIBUTES + r"\s*/?>")
BLOCK_OPEN = r"<\s*" + _PREFIX + r"(?:tool_calls|function_calls)\s*>"
JSON_OPEN = r"\{\s*\"tool_calls\"\s*:"
_ATTRIBUTE = regex.compile(r"([\w-]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
BLOCK_NAMES = ("tool_calls", "function_calls")
TAG_MAX = 512        # a tag still unfinished after this many characters is not one
CDATA_OPEN, CDATA_CLOSE = "<![CDATA[", "]]>"


class MarkupError(ValueError):
    """A block that looked like tool calls but is not one; the message says why (for the log)."""


@dataclass
class ParsedCall:
    """One call as the model wrote it: a name and its arguments (RawText values from markup)."""

    name: str
    arguments: dict


def tag_at(text: str, pos: int):
    """The tag starting at `pos`: a match, "partial" while the text may still become one, or None."""
    match = TAG.match(text, pos, partial=True)
    if match is None:
        return None
    if match.partial:
        return "partial" if len(text) - pos < TAG_MAX else None
    return match


class BlockReader:
    """Read one <tool_calls> block piece by piece; each character is looked at a bounded number of times.

    `feed` raises MarkupError as soon as the text cannot be a block (`failed_at` then says how many characters
    were read as a block before that); `done` is set at its closing tag, `end` is how many characters the
    block took and `rest` what followed it in the pieces fed.
    """

    def __init__(self):
        self.calls: list[ParsedCall] = []
        self.done, self.end, self.scanned, self.failed_at = False, 0, 0, 0
        self._gap: list[str] = []              # whitespace after "]]>", the value's own if more of it follows
        self._pending, self._taken = "", 0     # unread text, and how many characters came before it
        self._state = "open"
        self._name, self._values, self._parameter, self._attributes = "", {}, "", {}
        self._parts: list[str] = []            # the current value (or JSON body) read so far

    @property
    def rest(self) -> str:
        """What followed the closing tag in the pieces fed."""
        return self._pending

    def feed(self, text: str) -> None:
        """Read the next piece of the block."""
        if self.done:
            self._pending += text
            return
        buf = self._pending + text
        self.scanned += len(buf)
        pos = 0
        while not self.done:
            try:
                step = getattr(self, "_on_" + self._state)(buf, pos)
            except MarkupError:
                self.failed_at = self._taken + pos
                raise
            if step is None or step == pos == len(buf):
                break
            pos = step
        self._taken += pos
        self._pending = buf[pos:]
        if self.done:
            self.end = self._taken

    def finish(self) -> list[ParsedCall]:
        """The block's calls, once the answer ended; MarkupError if the block never closed."""
        if not self.done:
            raise MarkupError("the block is incomplete")
        return self.calls

    # ---- states: each reads from `pos` and returns where it stopped, or None to wait for more -----------

    def _tag(self, buf: str, pos: int, allowed: dict) -> int | None:
        """Skip whitespace, then read one tag among `allowed` ((closing, name) -> next state)."""
        start = skip_space(buf, pos)
        if start == len(buf):
            return start   # whitespace between tags: skipped once, never read again
        tag = tag_at(buf, start)
        if tag == "partial":
            return start if start > pos else None
        key = (bool(tag.group("close")), _kind(tag.group("name"))) if tag else None
        if key not in allowed:
            raise MarkupError(f"unexpected text in a block where {' or '.join(_say(k) for k in allowed)} belongs")
        self._attributes = _attributes(tag.group("attrs"))
        self._state = allowed[key]
        return tag.end()

    def _on_open(self, buf: str, pos: int) -> int | None:
        return self._tag(buf, pos, {(False, "block"): "calls"})

    def _on_calls(self, buf: str, pos: int) -> int | None:
        allowed = {(False, "invoke"): "invoke"}
        if self.calls:
            allowed[(True, "block")] = "closed"
        end = self._tag(buf, pos, allowed)
        if end is not None and self._state == "invoke":
            self._name = (self._attributes.get("name") or "").strip()
            if not self._name:
                raise MarkupError("a call without a name")
            self._values = {}
        elif self._state == "closed":
            self.done = True
        return end

    def _on_invoke(self, buf: str, pos: int) -> int | None:
        start = skip_space(buf, pos)
        if start == len(buf):
            return start
        if buf[start] != "<" and not self._values:
            self._parts, self._state = [], "json_body"   # a JSON object as the call's whole body
            return start
        end = self._tag(buf, start, {(False, "parameter"): "value", (True, "invoke"): "calls"})
        if end is None:
            return None
        if self._state == "value":
            self._parameter = self._attributes.get("name")
            if not self._parameter:
                raise MarkupError("a parameter without a name")
            self._parameter_attributes, self._parts = self._attributes, []
        else:
            self.calls.append(ParsedCall(self._name, self._values))
        return end

    def _on_value(self, buf: str, pos: int) -> int | None:
        start = skip_space(buf, pos)
        head = buf[start:start + len(CDATA_OPEN)]
        if CDATA_OPEN.startswith(head) and len(head) < len(CDATA_OPEN) and len(buf) - pos < TAG_MAX:
            return None   # whitespace, or the start of a CDATA section: wait to see which
        if head == CDATA_OPEN:
            self._state = "cdata"
            return start + len(CDATA_OPEN)
        self._state = "text"
        return pos

    def _on_cdata(self, buf: str, pos: int) -> int | None:
        at = buf.find(CDATA_CLOSE, pos)
        if at < 0:
            keep = max(pos, len(buf) - len(CDATA_CLOSE) + 1)
            self._parts.append(buf[pos:keep])
            return keep if keep > pos else None
        self._parts.append(buf[pos:at])
        self._state = "cdata_end"
        return at + len(CDATA_CLOSE)

    def _on_cdata_end(self, buf: str, pos: int) -> int | None:
        """After "]]>": the parameter's closing tag, another CDATA section, or "]]>" that was the value's own."""
        start = skip_space(buf, pos)
        if start > pos:   # kept aside once: the value's own if "]]>" turns out to be part of it
            self._gap.append(buf[pos:start])
            return start
        if start == len(buf) or (CDATA_OPEN.startswith(buf[start:start + 9]) and len(buf) - start < 9):
            return None
        gap, self._gap = self._gap, []
        if buf.startswith(CDATA_OPEN, start):
            self._state = "cdata"
            return start + len(CDATA_OPEN)
        tag = tag_at(buf, start)
        if tag == "partial":
            self._gap = gap
            return None
        if tag and tag.group("close") and tag.group("name") == "parameter":
            self._store(Verbatim("".join(self._parts)))
            return tag.end()
        self._parts += [CDATA_CLOSE, *gap]   # the value itself held "]]>": read on
        self._state = "cdata"
        return pos

    def _on_text(self, buf: str, pos: int) -> int | None:
        return self._until_close(buf, pos, "parameter", lambda value: self._store(_plain(value)))

    def _on_json_body(self, buf: str, pos: int) -> int | None:
        return self._until_close(buf, pos, "invoke", self._json_body)

    def _until_close(self, buf: str, pos: int, name: str, then) -> int | None:
        """Read text up to the closing tag of `name`, then hand the text to `then`."""
        search = pos
        while (at := buf.find("<", search)) >= 0:
            tag = tag_at(buf, at)
            if tag == "partial":
                self._parts.append(buf[pos:at])
                return at if at > pos else None
            if tag and tag.group("close") and tag.group("name") == name:
                self._parts.append(buf[pos:at])
                then("".join(self._parts))
                return tag.end()
            search = at + 1
        self._parts.append(buf[pos:])
        return len(buf) if len(buf) > pos else None

    def _store(self, value: str) -> None:
        # DSML's string="true" marks a value that is text whatever it looks like.
        if self._parameter_attributes.get("string") == "true":
            value = Verbatim(value) if isinstance(value, Verbatim) else str(value)
        self._values[self._parameter] = value
        self._state = "invoke"

    def _json_body(self, body: str) -> None:
        try:
            whole = json.loads(body)
        except ValueError:
            raise MarkupError("a call whose body is neither parameters nor a JSON object") from None
        if not isinstance(whole, dict):
            raise MarkupError("a call whose body is JSON but not an object")
        self.calls.append(ParsedCall(self._name, whole))
        self._state = "calls"


def skip_space(buf: str, pos: int) -> int:
    """The first position at or after `pos` that is not whitespace."""
    while pos < len(buf) and buf[pos].isspace():
        pos += 1
    return pos


def _kind(name: str) -> str:
    return "block" if name in BLOCK_NAMES else name


def _say(key: tuple) -> str:
    return ("a closing " if key[0] else "an opening ") + key[1] + " tag"


def _attributes(text: str) -> dict:
    return {m.group(1): m.group(2) if m.group(2) is not None else m.group(3) for m in _ATTRIBUTE.finditer(text or "")}


def _plain(value: str) -> RawText:
    """A value written on its own lines loses those line breaks, nothing else (code keeps its indent)."""
    if value.startswith("\r\n"):
        value = value[2:]
    elif value.startswith("\n"):
        value = value[1:]
    if value.endswith("\r\n"):
        value = value[:-2]
    elif value.endswith("\n"):
        value = value[:-1]
    return RawText(value)

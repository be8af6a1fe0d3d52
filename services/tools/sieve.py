"""The streaming sieve: answer text flows on until it may be a tool-call block, which is held back, then
released as text or turned into calls; no partial tag, fence or block ever goes out as content."""

from __future__ import annotations

import json
import logging
import re

from services.events import HeldContent, Text, ToolCallDelta
from services.tools.markup import CLOSER_MAX, FENCE_LINE, TAG_CLOSER, MarkupError, opener_at, parse_block
from services.tools.request import ToolRequest, new_call_id
from services.tools.schema import ArgumentsError, coerce_arguments

log = logging.getLogger("freeseek")

_CANDIDATE = re.compile(r"[<{`]")
_FENCE_START = re.compile(r"`{1,3}|```[\w+.-]*[ \t]*")
_FENCE_END = re.compile(r"\s*```")
_FENCE_END_SOON = re.compile(r"\s*`{0,2}")


class ToolSieve:
    """Feed the answer's content in order; get Text, ToolCallDelta and HeldContent events back."""

    def __init__(self, request: ToolRequest, label: str = "-"):
        self.request, self.label = request, label
        self.calls: list[ToolCallDelta] = []   # each call made, whole (id, name, JSON arguments)
        self._buf = ""              # text not yet sent on; in a block state it is the held block
        self._state = "text"
        self._line_start = True     # only spaces or tabs were sent since the last line break
        self._fence = False         # the held block is wrapped in a fence
        self._kind = "tag"          # the held block's kind: "tag" or "json"
        self._opener_end = 0        # where the held block's opening tag ends
        self._scan = 0              # where the search for the held block's end resumes
        self._json = (0, False, False)   # brace depth, inside a string, after a backslash
        self._block_end = 0         # end of a fenced block, whose fence must still close
        self._extra = False         # the held block follows calls already made
        self._gap = ""              # trailing whitespace of the text sent so far: dropped if calls follow

    def feed(self, text: str) -> list:
        """Take the next piece of the answer; HeldContent stands for a piece kept back for now."""
        self._buf += text
        out = self._run(final=False)
        return out if out or not text else [HeldContent(len(text))]

    def flush(self) -> list:
        """The answer ended: decide about whatever is still held."""
        out = self._run(final=True)
        if self._gap and not self.calls:
            out.append(Text(content=self._gap))
        self._gap = ""
        return out

    def _run(self, final: bool) -> list:
        out: list = []
        while getattr(self, "_on_" + self._state)(out, final):
            pass
        return out

    # ---- states: each handles the buffer and returns True when the next state should run now ---------

    def _on_text(self, out: list, final: bool) -> bool:
        match = _CANDIDATE.search(self._buf)
        if not match:
            self._send(out, len(self._buf))
            return False
        self._send(out, match.start())
        head = self._buf
        if head[0] == "`":
            status = self._fence_opening(head) if self._line_start else None
        else:
            status = opener_at(head)
        if status == -1:
            if final:
                self._send(out, len(head))
            return False
        if status is None:
            self._send(out, 1)
            return True
        if status[0] == "code":  # a fence holding something else: the user's code, passed through
            self._send(out, status[1])
            self._state = "code"
            return True
        if status[0] == "fence":
            _, self._kind, self._opener_end = status
        else:
            self._kind, self._opener_end = status
        self._fence = head[0] == "`"
        self._scan, self._json, self._extra = self._opener_end, (0, False, False), False
        if self._kind == "json":  # the brace scan starts at the object's own "{"
            self._scan = head.index("{", FENCE_LINE.match(head).end() if self._fence else 0)
        self._state = "block"
        return True

    def _on_block(self, out: list, final: bool) -> bool:
        end = self._tag_end() if self._kind == "tag" else self._json_end()
        if end is None:
            rest = self._buf[self._opener_end:].lstrip()
            if self._kind == "tag" and rest and rest[0] != "<":
                return self._not_a_call(out, self._opener_end, None)  # prose that names the tag, not a block
            if final:
                return self._not_a_call(out, len(self._buf), "the block is incomplete")
            return False
        if self._fence:
            self._block_end, self._state = end, "fence_tail"
            return True
        calls = self._calls(self._buf[:end])
        if calls is None:
            return self._not_a_call(out, end, None)
        self._make(out, calls)
        self._buf, self._state = self._buf[end:], "after"
        return True

    def _on_fence_tail(self, out: list, final: bool) -> bool:
        tail = self._buf[self._block_end:]
        closed = _FENCE_END.match(tail)
        if closed and tail[closed.end():].strip():
            # Text after the fence: the block was shown, not called.
            self._send(out, self._block_end + closed.end())
            self._state = "text"
            return True
        if not closed and not _FENCE_END_SOON.fullmatch(tail):
            self._send(out, self._block_end)   # the fence holds more than the block: it is code
            self._state = "code"
            return True
        if not final:
            return False
        calls = self._calls(self._buf[:self._block_end])
        if calls is None:
            self._send(out, len(self._buf))
        else:
            self._make(out, calls)
        self._buf, self._state = "", "done"
        return False

    def _on_after(self, out: list, final: bool) -> bool:
        rest = self._buf.lstrip()
        status = opener_at(rest) if rest and self.request.parallel else None
        if not rest or (status == -1 and not final):
            self._buf = rest
            return False
        if status is None or status == -1:
            self._buf, self._state = "", "done"   # whatever the model writes after its calls is dropped
            return False
        self._buf, (self._kind, self._opener_end) = rest, status
        self._scan, self._json, self._fence, self._extra = self._opener_end, (0, False, False), False, True
        if self._kind == "json":
            self._scan = 0
        self._state = "block"
        return True

    def _on_done(self, out: list, final: bool) -> bool:
        self._buf = ""
        return False

    def _on_code(self, out: list, final: bool) -> bool:
        buf, start = self._buf, 0
        while (at := buf.find("```", start)) >= 0:
            line = buf.rfind("\n", 0, at) + 1
            if (line > 0 or self._line_start) and not buf[line:at].strip(" \t"):
                self._send(out, at + 3)
                self._state = "text"
                return True
            start = at + 1
        line = buf.rfind("\n") + 1
        tail = buf[line:]
        could_close = (line > 0 or self._line_start) and re.fullmatch(r"[ \t]*`{0,2}", tail)
        self._send(out, line if tail and could_close and not final else len(buf))
        return False

    # ---- helpers ---------------------------------------------------------------------------------------

    def _fence_opening(self, head: str):
        """("fence", kind, opener end) for a fence that opens a block, ("code", line end) for another fence,
        -1 while undecided, None for backticks that open no fence."""
        line = FENCE_LINE.match(head)
        if not line:
            return -1 if _FENCE_START.fullmatch(head) else None
        rest = head[line.end():]
        gap = len(rest) - len(rest.lstrip())
        inner = opener_at(rest[gap:])
        if inner == -1:
            return -1
        if inner is None:
            return "code", line.end()
        return "fence", inner[0], line.end() + gap + inner[1]

    def _tag_end(self) -> int | None:
        closer = TAG_CLOSER.search(self._buf, max(self._opener_end, self._scan - CLOSER_MAX))
        self._scan = len(self._buf)
        return closer.end() if closer else None

    def _json_end(self) -> int | None:
        """Where the JSON object that opens the block ends, scanning only what arrived since last time."""
        depth, in_string, escaped = self._json
        buf = self._buf
        for i in range(self._scan, len(buf)):
            char = buf[i]
            if in_string:
                if escaped:
                    escaped = False
                elif char == "\\":
                    escaped = True
                elif char == '"':
                    in_string = False
            elif char == '"':
                in_string = True
            elif char in "{[":
                depth += 1
            elif char in "}]":
                depth -= 1
                if depth == 0:
                    return i + 1
        self._json, self._scan = (depth, in_string, escaped), len(buf)
        return None

    def _calls(self, block: str) -> list[tuple[str, dict]] | None:
        """The block's calls with arguments coerced to their schemas, or None (and a log line) if unusable."""
        try:
            parsed = parse_block(block)
            allowed = self.request.callable_names
            for call in parsed:
                if call.name not in allowed:
                    raise MarkupError(f"a call of '{call.name}', which was not offered" if call.name not in
                                      self.request.tools else f"a call of '{call.name}' under a named tool_choice")
            return [(c.name, coerce_arguments(c.arguments, self.request.tools[c.name]["parameters"]))
                    for c in parsed]
        except (MarkupError, ArgumentsError) as exc:
            log.info("request %s: tool-call markup answered as text: %s", self.label, exc)
            return None

    def _make(self, out: list, calls: list[tuple[str, dict]]) -> None:
        for name, arguments in calls:
            if self.calls and not self.request.parallel:
                return  # parallel_tool_calls: false keeps the first call only
            self._gap = ""
            index, call_id = len(self.calls), new_call_id()
            text = json.dumps(arguments, ensure_ascii=False)
            self.calls.append(ToolCallDelta(index, call_id, name, text))
            out += [ToolCallDelta(index, call_id, name, ""), ToolCallDelta(index, arguments=text)]

    def _not_a_call(self, out: list, upto: int, why: str | None) -> bool:
        if why:
            log.info("request %s: tool-call markup answered as text: %s", self.label, why)
        if self._extra:  # after calls were made, a broken block is dropped like any trailing text
            self._buf, self._state = "", "done"
            return False
        self._send(out, upto)
        self._state = "code" if self._fence else "text"
        return True

    def _send(self, out: list, upto: int) -> None:
        """Send the first `upto` characters of the buffer on as content."""
        if upto <= 0:
            return
        text, self._buf = self._gap + self._buf[:upto], self._buf[upto:]
        line = text.rsplit("\n", 1)
        self._line_start = (not line[-1].strip(" \t")) and (len(line) > 1 or self._line_start)
        # Whitespace waits for what follows: before a call block it is the markup's, not the answer's.
        sent = text.rstrip()
        self._gap = text[len(sent):]
        if sent:
            out.append(Text(content=sent))

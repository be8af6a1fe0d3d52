"""The streaming sieve: answer text flows on until a line may begin a tool-call block, which is held back,
then released as text or turned into calls; no partial tag, fence or block ever goes out as content.

Where a call may stand: a tag block begins a line (after optional whitespace), outside quote lines and
fences (a fence may wrap a block only when it holds the block and nothing else); a {"tool_calls": ...}
object only as the whole answer or alone in a fence. Markup anywhere else is a mention, and text.
"""

from __future__ import annotations

import json
import logging

from services.events import HeldContent, Text, ToolCallDelta
from services.tools.dsml import TAG_MAX, BlockReader, ParsedCall, skip_space
from services.tools.markup import Fence, JsonReader, MarkupError, fence_opening, opening, pre_opening
from services.tools.request import ToolRequest, new_call_id
from services.tools.schema import ArgumentsError, coerce_arguments

log = logging.getLogger("freeseek")



class ToolSieve:
    """Feed the answer's content in order; get Text, ToolCallDelta and HeldContent events back."""

    def __init__(self, request: ToolRequest, label: str = "-"):
        self.request, self.label = request, label
        self.calls: list[ToolCallDelta] = []   # each call made, whole (id, name, JSON arguments)
        self._buf = ""              # text not yet sent on (outside a held block)
        self._state = "text"
        self._line_start = True     # only spaces or tabs were sent since the last line break
        self._indent = 0            # how many columns of them
        self._answer_start = True   # only whitespace was sent so far (where a JSON object may stand)
        self._prefix = ""           # the fence line before a held block, if fenced
        self._held: list[str] = []  # the held block's pieces as read so far
        self._block = ""            # the held block, whole, once it closed
        self._incoming: list[str] = []   # pieces for the held block not yet read
        self._reader = None         # the BlockReader or JsonReader of the held block
        self._fence: Fence | None = None   # the fence the held block is wrapped in, or the code is in
        self._extra = False         # the held block follows calls already made
        self._gap: list[str] = []   # trailing whitespace of the text sent so far: dropped if calls follow
        self._scanned = 0           # characters looked at outside held blocks (the work, for tests)
        self._blank = [0, 0]        # after a closed block: how far its tail is known blank (before, after a fence)

    @property
    def scanned(self) -> int:
        """How many characters the sieve has looked at so far, counting each look (linear in the answer)."""
        return self._scanned + (self._reader.scanned if self._reader else 0)

    def feed(self, text: str) -> list:
        """Take the next piece of the answer; HeldContent stands for a piece kept back for now."""
        if self._state == "block":
            self._incoming.append(text)
        elif self._state != "done":
            self._buf += text
        out = self._run(final=False)
        return out if out or not text else [HeldContent(len(text))]

    def flush(self) -> list:
        """The answer ended: decide about whatever is still held."""
        out = self._run(final=True)
        if any(self._gap) and not self.calls:
            out.append(Text(content="".join(self._gap)))
        self._gap = []
        return out

    def _run(self, final: bool) -> list:
        out: list = []
        while getattr(self, "_on_" + self._state)(out, final):
            pass
        return out

    # ---- states: each handles the buffer and returns True when the next state should run now ---------

    def _on_text(self, out: list, final: bool) -> bool:
        buf, pos, line_start = self._buf, 0, self._line_start
        self._scanned += len(buf)
        while pos < len(buf):
            if line_start:
                indent = self._indent if pos == 0 else 0
                begin = pos
                while pos < len(buf) and buf[pos] in " \t":
                    pos += 1
                indent += _width(buf[begin:pos])
                status = self._opening(buf, pos, indent) if pos < len(buf) else None
                if status == -1 and not final:
                    self._send(out, pos)   # a line that may open a block: hold it
                    return False
                if status not in (None, -1):
                    self._send(out, pos)
                    return self._begin(out, status)
            end = buf.find("\n", pos)
            pos, line_start = (end + 1, True) if end >= 0 else (len(buf), False)
        self._send(out, len(buf))
        return False

    def _opening(self, buf: str, pos: int, indent: int):
        """What the line starting at `pos` (after `indent` columns of whitespace) opens: a block ("block",
        kind), a fence or <pre> of code ("code", ...), -1 or None."""
        char = buf[pos]
        if char in "`~":
            return fence_opening(buf, pos)
        if char == "<" and (pre := pre_opening(buf, pos)) is not None:
            return pre
        if char in "<{" and indent < 4:   # four columns in: an indented code block, shown not called
            kind = opening(buf, pos, json_too=self._answer_start and not self.calls)
            return kind if kind in (None, -1) else ("block", kind)
        return None

    def _begin(self, out: list, status: tuple) -> bool:
        self._fence = status[2] if status[0] in ("fence", "code") else None
        if status[0] == "code":  # a fence holding something else: the user's code, passed through
            self._send(out, self._fence.length)
            self._state = "code"
            return True
        self._drop_reader()
        self._reader = BlockReader() if status[1] == "tag" else JsonReader()
        start = self._fence.length if self._fence else 0
        self._prefix, self._incoming, self._held = self._buf[:start], [self._buf[start:]], []
        self._buf, self._state, self._extra = "", "block", False
        return True

    def _on_block(self, out: list, final: bool) -> bool:
        reader = self._reader
        try:
            while self._incoming and not reader.done:
                piece = self._incoming.pop(0)
                self._held.append(piece)
                reader.feed(piece)
        except MarkupError as exc:
            return self._not_a_call(out, str(exc), getattr(reader, "failed_at", 0))
        if not reader.done:
            return self._not_a_call(out, "the block is incomplete", None) if final else False
        held = "".join(self._held)
        self._block, self._blank = self._prefix + held[:len(held) - len(reader.rest)], [0, 0]
        self._buf, self._incoming = reader.rest + "".join(self._incoming), []
        if self._fence:
            self._state = "fence_tail"
            return True
        if isinstance(reader, JsonReader):
            self._state = "json_tail"
            return True
        calls = self._calls(reader)
        if calls is None:
            self._buf = self._block + self._buf
            return self._release(out, len(self._block), "text")
        self._make(out, calls)
        self._state = "after"
        return True

    def _on_fence_tail(self, out: list, final: bool) -> bool:
        tail, char = self._buf, self._fence.mark[0]
        # Whitespace before the closing marker and after it is looked at once, however it trickles in.
        start = self._blank[0] = skip_space(tail, self._blank[0])
        closed = self._fence.closing_after_block().match(tail, start)
        self._buf = self._block + tail
        if closed and skip_space(tail, max(closed.end(), self._blank[1])) < len(tail):
            # Text after the fence: the block was shown, not called.
            return self._release(out, len(self._block) + closed.end(), "text")
        if closed:
            self._blank[1] = len(tail)
        if not closed and tail[start:].strip(char + " \t\r"):
            return self._release(out, len(self._block), "code")   # the fence holds more than the block: code
        self._buf = tail
        if not final:
            return False
        calls = self._calls(self._reader)
        if calls is None:
            self._buf = self._block + tail
            return self._release(out, len(self._buf), "text")
        self._make(out, calls)
        self._buf, self._state = "", "done"
        return False

    def _on_json_tail(self, out: list, final: bool) -> bool:
        self._blank[0] = skip_space(self._buf, self._blank[0])
        if self._blank[0] < len(self._buf):   # text after the object: it was an example, not the answer
            self._buf = self._block + self._buf
            return self._release(out, len(self._block), "text")
        if not final:
            return False
        calls = self._calls(self._reader)
        if calls is None:
            self._buf = self._block + self._buf
            return self._release(out, len(self._buf), "text")
        self._make(out, calls)
        self._buf, self._state = "", "done"
        return False

    def _on_after(self, out: list, final: bool) -> bool:
        rest = self._buf.lstrip()
        status = opening(rest, 0, json_too=False) if rest and self.request.parallel else None
        if not rest or (status == -1 and not final):
            self._buf = rest
            return False
        if status != "tag":
            if rest.strip():
                log.info("request %s: text after the tool calls dropped", self.label)
            self._buf, self._state = "", "done"   # whatever the model writes after its calls is dropped
            return False
        self._drop_reader()
        self._reader, self._fence, self._prefix = BlockReader(), None, ""
        self._held, self._incoming, self._buf, self._state, self._extra = [], [rest], "", "block", True
        return True

    def _on_done(self, out: list, final: bool) -> bool:
        self._buf = ""
        return False

    def _on_code(self, out: list, final: bool) -> bool:
        """Inside a fence of code: pass it on until a line closes the fence (the same marker, as long or
        longer, nothing after it); the last line waits while it may still become that."""
        buf, closing = self._buf, self._fence.closing()
        self._scanned += len(buf)
        newline = buf.find("\n")
        pos = 0 if self._line_start else newline + 1 if newline >= 0 else len(buf)
        while pos < len(buf):
            line = closing.match(buf, pos, partial=True)
            if line is not None and not line.partial:
                self._send(out, line.end())
                self._state, self._fence = "text", None
                return True
            if line is not None and not final and len(buf) - pos < TAG_MAX:
                self._send(out, pos)   # the last line may still close the fence
                return False
            newline = buf.find("\n", pos)
            if newline < 0:
                break
            pos = newline + 1
        self._send(out, len(buf))
        return False

    # ---- helpers ---------------------------------------------------------------------------------------

    def _calls(self, reader) -> list[tuple[str, dict]] | None:
        """The block's calls with arguments coerced to their schemas, or None (and a log line) if unusable."""
        try:
            parsed: list[ParsedCall] = reader.finish()
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
            self._gap = []
            index, call_id = len(self.calls), new_call_id()
            text = json.dumps(arguments, ensure_ascii=False)
            self.calls.append(ToolCallDelta(index, call_id, name, text))
            out += [ToolCallDelta(index, call_id, name, ""), ToolCallDelta(index, arguments=text)]

    def _not_a_call(self, out: list, why: str | None, failed_at: int | None) -> bool:
        """The held text is no block: send on as text what was read as one (all of it when the answer ended
        inside it; a block that never closed is text), and read on from there. Releasing the whole part
        read, not its first character, keeps the work linear: no later line of it is read as a block again."""
        if why:
            log.info("request %s: tool-call markup answered as text: %s", self.label, why)
        self._buf = self._prefix + "".join(self._held) + "".join(self._incoming)
        self._incoming = []
        if self._extra:  # after calls were made, a broken block is dropped like any trailing text
            self._buf, self._state = "", "done"
            return False
        if failed_at is None:
            return self._release(out, len(self._buf), "code" if self._fence else "text")
        if self._fence:
            return self._release(out, len(self._prefix), "code")
        return self._release(out, len(self._prefix) + max(1, failed_at), "text")

    def _release(self, out: list, upto: int, state: str) -> bool:
        """Send the first `upto` characters of the buffer as text, then read on in `state`."""
        if self._extra:
            self._buf, self._state = "", "done"
            return False
        self._drop_reader()
        self._held, self._block = [], ""
        self._send(out, upto)
        self._state = state
        return True

    def _drop_reader(self) -> None:
        """Forget the held block's reader, counting its work."""
        if self._reader is not None:
            self._scanned += self._reader.scanned
        self._reader = None

    def _send(self, out: list, upto: int) -> None:
        """Send the first `upto` characters of the buffer on as content."""
        if upto <= 0:
            return
        text, self._buf = self._buf[:upto], self._buf[upto:]
        line = text.rsplit("\n", 1)
        self._line_start = (not line[-1].strip(" \t")) and (len(line) > 1 or self._line_start)
        if self._line_start:
            self._indent = (0 if len(line) > 1 else self._indent) + _width(line[-1])
        # Whitespace waits for what follows: before a call block it is the markup's, not the answer's.
        sent = text.rstrip()
        if sent:
            self._answer_start = False
            out.append(Text(content="".join(self._gap) + sent))
            self._gap = []
        if len(sent) < len(text):
            self._gap.append(text[len(sent):])


def _width(space: str) -> int:
    """Columns of leading spaces and tabs (a tab counts as four, as for an indented code block)."""
    return len(space) + 3 * space.count("\t")


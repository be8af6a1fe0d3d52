"""Stop sequences for an upstream that has none (the web chat): the text is cut before the first one met,
and the upstream is stopped; the finish says which sequence ended the answer."""

from __future__ import annotations

from typing import Iterator

from services.events import Finish, Text, ToolCallDelta


def stop_sequences(value) -> list[str]:
    """The request's `stop` (a string or a list of strings) as a list of non-empty sequences."""
    values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    return [v for v in values if isinstance(v, str) and v]


class StopCutter:
    """Feed the answer's text in order: what may go on comes back; `met` is set once a sequence appears."""

    def __init__(self, sequences: list[str]):
        self.sequences = sequences
        self.met: str | None = None
        self._held = ""   # the end of the text so far that may be the start of a sequence

    def feed(self, text: str) -> str:
        """The text that may go on now (cut before a sequence met)."""
        buf = self._held + text
        found = [(at, s) for s in self.sequences if (at := buf.find(s)) >= 0]
        if found:
            at, self.met = min(found)
            self._held = ""
            return buf[:at]
        hold = next((k for k in range(min(len(buf), max(map(len, self.sequences)) - 1), 0, -1)
                     if any(s.startswith(buf[-k:]) for s in self.sequences)), 0)
        self._held = buf[len(buf) - hold:]
        return buf[:len(buf) - hold]

    def flush(self) -> str:
        """The text still held when the answer ended without a sequence."""
        held, self._held = self._held, ""
        return held


class WrappedStream:
    """An upstream answer read through something: abort, close and inline go to the answer it wraps."""

    def __init__(self, inner):
        self.inner = inner

    def abort(self) -> None:
        """Abort the upstream read (called from another greenlet)."""
        self.inner.abort()

    def close(self) -> None:
        """Close the upstream answer."""
        self.inner.close()

    @property
    def inline(self) -> bool:
        """Whether the upstream answer can be read by the request's own greenlet (see OpenAIStream)."""
        return getattr(self.inner, "inline", False)


class StoppedStream(WrappedStream):
    """An answer cut at the client's stop sequences; the upstream is stopped when one is met. It reads the
    answer after the tool sieve: a sequence inside a tool-call block never cuts the call."""

    def __init__(self, inner, sequences: list[str]):
        super().__init__(inner)
        self.sequences = sequences

    def events(self, *idle) -> Iterator:
        """The upstream's events, its content cut at the first stop sequence."""
        cutter = StopCutter(self.sequences)
        events = self.inner.events(*idle)
        for event in events:
            if isinstance(event, Text) and event.content:
                content = cutter.feed(event.content)
                if content or event.reasoning:
                    yield Text(content=content, reasoning=event.reasoning)
                if cutter.met is not None:
                    self.inner.abort()   # the web chat stops generating what nobody will read
                    events.close()
                    yield Finish("stop", stop_sequence=cutter.met)
                    return
            else:
                # Text held as the possible start of a sequence goes before a call or the end, in order.
                if isinstance(event, (Finish, ToolCallDelta)) and (tail := cutter.flush()):
                    yield Text(content=tail)
                yield event

"""Split a leading <think>...</think> out of streamed content into reasoning, tags split across chunks too."""

from __future__ import annotations

from services.events import Text

OPEN, CLOSE = "<think>", "</think>"


class ThinkTagSplitter:
    """Feed content pieces in order; get Text events with reasoning separated from the answer."""

    __slots__ = ("_state", "_held")  # one of each per open stream

    def __init__(self) -> None:
        self._state = "start"
        self._held = ""

    def feed(self, piece: str) -> list[Text]:
        """Consume one content piece and return what can be emitted now."""
        if self._state == "text":
            return [Text(content=piece)] if piece else []
        self._held += piece
        out: list[Text] = []
        while True:
            if self._state == "start":
                head = self._held.lstrip()
                if len(head) < len(OPEN) and OPEN.startswith(head):
                    return out  # could still become "<think>"
                if head.startswith(OPEN):
                    self._state, self._held = "think", head[len(OPEN):]
                    continue
                self._state = "text"
                out.append(Text(content=self._held))
                self._held = ""
                return out
            if self._state == "think":
                end = self._held.find(CLOSE)
                if end >= 0:
                    if end:
                        out.append(Text(reasoning=self._held[:end]))
                    self._state, self._held = "after", self._held[end + len(CLOSE):]
                    continue
                keep = _partial_suffix(self._held, CLOSE)
                if len(self._held) > keep:
                    out.append(Text(reasoning=self._held[:len(self._held) - keep]))
                    self._held = self._held[len(self._held) - keep:]
                return out
            # "after": the blank lines that separate </think> from the answer are not part of it.
            rest = self._held.lstrip()
            if rest:
                self._state, self._held = "text", ""
                out.append(Text(content=rest))
            else:
                self._held = ""
            return out

    def flush(self) -> list[Text]:
        """Emit whatever is still held when the stream ends."""
        held, self._held = self._held, ""
        if not held:
            return []
        if self._state == "think":
            return [Text(reasoning=held)]
        if self._state == "start":
            return [Text(content=held)]
        return []


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest end of `text` that could be the start of `tag`."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0

"""Search answers: citation markers rewritten as they stream, and the list of sources after the answer."""

from __future__ import annotations

import re


class Citations:
    """Rewrite `[citation:N]` and `[reference:N]` to `[N]` in streamed text (markers split across pieces too)."""

    _MARK = re.compile(r"\[(?:citation|reference):(\d+)\]")
    _WORDS = ("citation:", "reference:")

    def __init__(self) -> None:
        self._held = ""

    def feed(self, text: str) -> str:
        """Return what can be emitted now; a possible marker start is held back."""
        text = self._held + text
        self._held = ""
        start = text.rfind("[")
        if start >= 0 and self._unfinished(text[start + 1:]):
            text, self._held = text[:start], text[start:]
        return self._MARK.sub(r"[\1]", text)

    def _unfinished(self, tail: str) -> bool:
        """Tell whether `[` + tail may still become a marker."""
        for word in self._WORDS:
            if word.startswith(tail) or (tail.startswith(word) and tail[len(word):].isdigit()):
                return True
        return False

    def flush(self) -> str:
        """Whatever is still held at the end."""
        held, self._held = self._held, ""
        return held


def sources_text(results: list[dict]) -> str:
    """The source list appended to a search answer (each URL once)."""
    lines, seen = [], set()
    for position, result in enumerate(results, start=1):
        if not isinstance(result, dict) or not result.get("url") or result["url"] in seen:
            continue
        seen.add(result["url"])
        index = result.get("cite_index") or position
        lines.append(f"[{index}] [{result.get('title') or result['url']}]({result['url']})")
    return ("\n\nSources:\n" + "\n".join(lines)) if lines else ""

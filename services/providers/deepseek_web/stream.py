"""Read the web chat's completion stream, in any of its three formats, into answer text and reasoning."""

from __future__ import annotations

import json
import re

from services.events import KEEPALIVE, Text
from services.providers.deepseek_web import protocol as p
from services.sse import SSEEvent


class WebStreamError(Exception):
    """The stream reported an error (a toast, an error object, a busy backend)."""


class WebStreamParser:
    """Feed SSE events in order; get Text events. Unknown events and paths are skipped, never fatal."""

    def __init__(self) -> None:
        self.message_id: int | None = None
        self.search_results: list[dict] = []
        self.finish: str | None = None   # "stop" or "length" once the answer's status says so
        self.closed = False
        self._path: str | None = None
        self._fragment_types: list[str] = []

    def feed(self, sse: SSEEvent) -> list:
        """Interpret one SSE event."""
        if sse.comment:
            return [KEEPALIVE]
        if sse.event in p.SKIPPED_EVENTS:
            return []
        if sse.event == p.EVENT_CLOSE:
            self.closed = True
            return []
        data = sse.data.strip()
        if not data or data == "[DONE]":
            return []
        try:
            obj = json.loads(data)
        except ValueError:
            return []
        if sse.event == p.EVENT_TOAST:
            raise WebStreamError(_toast_text(obj))
        if not isinstance(obj, dict):
            return []
        if sse.event == p.EVENT_READY:
            self._note_message_id(obj.get("response_message_id"))
            return []
        if obj.get("error") or obj.get("code") not in (None, 0):
            raise WebStreamError(_toast_text(obj))
        if "choices" in obj:
            return self._legacy(obj)
        if "v" in obj:
            return self._patch(obj)
        return []

    # ---- legacy format: {"choices": [{"delta": {"content", "type"}, "finish_reason"}], "message_id"} ----

    def _legacy(self, obj: dict) -> list:
        self._note_message_id(obj.get("message_id"))
        out = []
        for choice in obj.get("choices") or []:
            delta = choice.get("delta") or {}
            kind, text = delta.get("type"), delta.get("content")
            if kind == p.LEGACY_SEARCH and isinstance(delta.get("search_results"), list):
                self.search_results = delta["search_results"]
            elif isinstance(text, str) and text:
                out.append(Text(reasoning=text) if kind == p.LEGACY_THINKING else Text(content=text))
            reason = choice.get("finish_reason")
            if reason == "backend_busy":
                raise WebStreamError("DeepSeek's servers are busy (backend_busy)")
            if reason:
                self.finish = "length" if reason == "length" else "stop"
        return out

    # ---- patch format: {"p": path?, "o": op?, "v": value} ------------------------------------------------

    def _patch(self, obj: dict) -> list:
        if "p" in obj:
            self._path = obj["p"]
        value, op = obj["v"], obj.get("o")
        if not self._path and isinstance(value, dict) and isinstance(value.get("response"), dict):
            return self._snapshot(value["response"])
        if op == p.OP_BATCH and isinstance(value, list):
            out = []
            for item in value:
                if isinstance(item, dict) and "p" in item:
                    out += self._at(f"{self._path}/{item['p']}" if self._path else item["p"], item.get("o"),
                                    item.get("v"))
            return out
        return self._at(self._path, op, value)

    def _snapshot(self, response: dict) -> list:
        """The initial `{"v": {"response": {...}}}`: its text counts."""
        self._note_message_id(response.get("message_id"))
        out = []
        if isinstance(response.get("thinking_content"), str) and response["thinking_content"]:
            out.append(Text(reasoning=response["thinking_content"]))
        if isinstance(response.get("fragments"), list):
            out += self._at(p.PATH_FRAGMENTS, p.OP_APPEND, response["fragments"])
        if isinstance(response.get("content"), str) and response["content"]:
            out.append(Text(content=response["content"]))
        if isinstance(response.get("search_results"), list):
            self.search_results = response["search_results"]
        self._status(response.get("status"))
        return out

    def _at(self, path: str | None, op: str | None, value) -> list:
        """Apply one value at one path."""
        if not path:
            return []
        if path.endswith("quasi_status"):
            self._status(value)  # the BATCH end signal; other values are progress
            return []
        if any(word in path for word in p.SKIPPED_PATH_WORDS):
            return []
        if path == p.PATH_STATUS:
            self._status(value)
        elif path == p.PATH_THINKING and isinstance(value, str) and value:
            return [Text(reasoning=value)]
        elif path == p.PATH_CONTENT and isinstance(value, str) and value:
            return [Text(content=value)]
        elif path == p.PATH_SEARCH_RESULTS and isinstance(value, list):
            self.search_results = (self.search_results + value) if op == p.OP_APPEND else value
        elif path == p.PATH_FRAGMENTS and isinstance(value, list):
            if op != p.OP_APPEND:
                self._fragment_types = []
            out = []
            for fragment in value:
                if isinstance(fragment, dict):
                    self._fragment_types.append(str(fragment.get("type", "")))
                    out += self._fragment_text(len(self._fragment_types) - 1, fragment.get("content"))
            return out
        elif path.startswith(p.PATH_FRAGMENTS + "/") and path.endswith(p.FRAGMENT_TEXT_SUFFIX):
            index = path[len(p.PATH_FRAGMENTS) + 1:-len(p.FRAGMENT_TEXT_SUFFIX)]
            if re.fullmatch(r"-?\d+", index):
                return self._fragment_text(int(index), value)
        return []

    def _fragment_text(self, index: int, text) -> list:
        """Text of a fragment: THINK is reasoning, RESPONSE is the answer, other kinds are not shown."""
        if not isinstance(text, str) or not text:
            return []
        try:
            kind = self._fragment_types[index]
        except IndexError:
            return []
        if kind == p.FRAGMENT_THINK:
            return [Text(reasoning=text)]
        if kind == p.FRAGMENT_RESPONSE:
            return [Text(content=text)]
        return []

    def _status(self, value) -> None:
        if value == p.STATUS_FINISHED:
            self.finish = "stop"
        elif value == p.STATUS_INCOMPLETE:
            self.finish = "length"

    def _note_message_id(self, value) -> None:
        if self.message_id is None and isinstance(value, int):
            self.message_id = value


def _toast_text(obj) -> str:
    """The human text of a toast or error object."""
    if isinstance(obj, dict):
        for key in ("content", "msg", "message", "biz_msg"):
            if isinstance(obj.get(key), str) and obj[key]:
                return obj[key][:300]
        if isinstance(obj.get("error"), (dict, str)):
            return _toast_text(obj["error"]) if isinstance(obj["error"], dict) else obj["error"][:300]
    return "the web chat reported an error"


class Citations:
    """Rewrite `[citation:N]` to `[N]` in streamed text (markers split across pieces too)."""

    _MARK = re.compile(r"\[citation:(\d+)\]")
    _PARTIAL = re.compile(r"\[(?:c(?:i(?:t(?:a(?:t(?:i(?:o(?:n(?::\d*)?)?)?)?)?)?)?)?)?$")

    def __init__(self) -> None:
        self._held = ""

    def feed(self, text: str) -> str:
        """Return what can be emitted now; a possible marker start is held back."""
        text = self._held + text
        partial = self._PARTIAL.search(text)
        self._held = partial.group(0) if partial else ""
        if partial:
            text = text[:partial.start()]
        return self._MARK.sub(r"[\1]", text)

    def flush(self) -> str:
        """Whatever is still held at the end."""
        held, self._held = self._held, ""
        return held


def sources_text(results: list[dict]) -> str:
    """The source list appended to a search answer."""
    lines = []
    for position, result in enumerate(results, start=1):
        if not isinstance(result, dict) or not result.get("url"):
            continue
        index = result.get("cite_index") or position
        lines.append(f"[{index}] [{result.get('title') or result['url']}]({result['url']})")
    return ("\n\nSources:\n" + "\n".join(lines)) if lines else ""

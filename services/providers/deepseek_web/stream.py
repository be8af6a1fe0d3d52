"""Read the web chat's completion stream, in any of its formats, into answer text, reasoning and its end."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from services.events import KEEPALIVE, Text
from services.providers.deepseek_web import drift as d
from services.providers.deepseek_web import protocol as p
from services.providers.deepseek_web.notices import WebStreamError, notice, notice_text
from services.sse import SSEEvent

ANSWER, REASONING, SEARCH, OTHER = "answer", "reasoning", "search", "other"


@dataclass
class _Fragment:
    kind: str         # ANSWER, REASONING, SEARCH or OTHER
    type: str         # the upstream's fragment type
    text: str = ""


def _category(fragment_type: str) -> str:
    if fragment_type in p.ANSWER_FRAGMENTS:
        return ANSWER
    if fragment_type in p.REASONING_FRAGMENTS:
        return REASONING
    return SEARCH if fragment_type in p.SEARCH_FRAGMENTS else OTHER


def _text(value) -> str | None:
    """The string a text path carries: bare, or inside `{"text": ...}` / `{"content": ...}`."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        for key in ("text", "content"):
            if isinstance(value.get(key), str):
                return value[key]
    return None


class WebStreamParser:
    """Feed SSE events in order; get Text events. Unknown events, paths and shapes are skipped, never fatal."""

    def __init__(self, resume: "WebStreamParser | None" = None, drift: d.Drift | None = None) -> None:
        # `resume` is the parser of the cut answer this stream continues: the continue stream re-sends the
        # message so far, so as many characters of each kind (answer, reasoning, search) as that one received
        # are dropped before anything is emitted, unless the stream turns out to be about another message.
        skip = resume.received if resume else {}
        self.drift = drift or (resume.drift if resume else None)  # where unknown shapes are counted
        self.message_id: int | None = None
        self.resumes = resume.message_id if resume else None
        self.status: str | None = None     # FINISHED (possibly provisional), INCOMPLETE, CONTENT_FILTER
        self.cut_reason: str | None = None  # the error frame after INCOMPLETE (generation_err: continue)
        self.closed = False
        self.withheld = ""                  # a notice that replaced text we had already sent (content filter)
        self.hint: WebStreamError | None = None  # an error hint, which counts only if no answer follows it
        self.legacy = False                 # the legacy format, whose cut answers cannot be continued
        self.skip = dict(skip or {})
        self.received: dict[str, int] = dict(skip or {})  # raw characters of the whole message, per kind
        self._search: dict[object, list[dict]] = dict(resume._search) if resume else {}
        self._path: str | None = None
        self._fragments: list[_Fragment] = []

    @property
    def finish(self) -> str | None:
        """The OpenAI finish reason the status gives: "stop", "length" (cut) or "content_filter"."""
        return {p.STATUS_FINISHED: "stop", p.STATUS_INCOMPLETE: "length",
                p.STATUS_CONTENT_FILTER: "content_filter"}.get(self.status)

    @property
    def search_results(self) -> list[dict]:
        """Every search result seen, in order of arrival."""
        return [result for results in self._search.values() for result in results]

    def feed(self, sse: SSEEvent) -> list:
        """Interpret one SSE event."""
        if sse.comment:
            return [KEEPALIVE]
        known = sse.event in p.KNOWN_EVENTS
        if not known:
            self._unknown(d.EVENT, sse.event, d.parsed(sse.data))
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
            self._unknown(d.SHAPE, "not-json", data)
            return []
        if sse.event == p.EVENT_TOAST:
            raise notice(obj, sse.event)
        if sse.event == p.EVENT_HINT:
            # A hint comes before or instead of an answer: it is the outcome only if no answer comes.
            if isinstance(obj, dict) and obj.get("type") == "error":
                if obj.get("content") not in p.KNOWN_HINTS:
                    self._unknown(d.NOTICE, f"hint:{obj.get('content')}", obj)
                self.hint = notice(obj, sse.event)
            return []
        if not isinstance(obj, dict):
            return []
        if sse.event == p.EVENT_READY:
            self._note_message_id(obj.get("response_message_id"))
            return []
        if obj.get("type") == "error" and "v" not in obj:
            return self._error_frame(obj)
        if obj.get("error") or obj.get("code") not in (None, 0):
            if obj.get("code") not in p.KNOWN_CODES:
                self._unknown(d.CODE, f"stream:{obj.get('code')}", obj)
            raise WebStreamError(notice_text(obj))
        if "choices" in obj:
            return self._legacy(obj)
        if "v" in obj:
            return self._patch(obj)
        if known:  # an unknown event's data is counted as the event
            self._unknown(d.SHAPE, "keys:" + "+".join(sorted(map(str, obj))), obj)
        return []

    def _unknown(self, kind: str, name, sample) -> None:
        """Count a shape this parser does not know (it is skipped all the same)."""
        if self.drift is not None:
            self.drift.note(kind, name, sample)

    def _error_frame(self, obj: dict) -> list:
        """`{"type": "error", "finish_reason"}`: a continuable cut, or a refusal that is final."""
        reason = obj.get("finish_reason")
        if reason == p.CUT_REASON:
            self.cut_reason = reason
            self.status = self.status or p.STATUS_INCOMPLETE
            return []
        if reason != p.UNSUPPORTED_CLIENT:
            self._unknown(d.NOTICE, f"finish_reason:{reason}", obj)
        raise notice(obj, p.EVENT_TOAST)

    # ---- legacy format: {"choices": [{"delta": {"content", "type"}, "finish_reason"}], "message_id"} ----

    def _legacy(self, obj: dict) -> list:
        self.legacy = True
        self._note_message_id(obj.get("message_id"))
        out = []
        choices = obj.get("choices") if isinstance(obj.get("choices"), list) else []
        for choice in (c for c in choices if isinstance(c, dict)):
            delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
            kind, text = delta.get("type"), delta.get("content")
            if kind == p.LEGACY_SEARCH and isinstance(delta.get("search_results"), list):
                self._search["legacy"] = delta["search_results"]
            elif isinstance(text, str) and text:
                out += self._emit(REASONING if kind == p.LEGACY_THINKING else ANSWER, text)
            reason = choice.get("finish_reason")
            if reason == "backend_busy":
                raise WebStreamError("DeepSeek's servers are busy (backend_busy)", "busy")
            if reason:
                self.status = p.STATUS_INCOMPLETE if reason == "length" else p.STATUS_FINISHED
        return out

    # ---- patch format: {"p": path?, "o": op?, "v": value} ------------------------------------------------

    def _patch(self, obj: dict) -> list:
        value, op = obj["v"], obj.get("o")
        if "p" not in obj and isinstance(value, dict) and isinstance(value.get("response"), dict):
            return self._snapshot(value["response"])
        if "p" not in obj and _is_batch(value):
            # A path-less list of patches is a batch relative to the response (the content filter's form).
            return self._batch(p.PATH_RESPONSE, value)
        if "p" in obj:
            self._path = obj["p"] if isinstance(obj["p"], str) else None
        if op == p.OP_BATCH and _is_batch(value):
            return self._batch(self._path or p.PATH_RESPONSE, value)
        return self._at(self._path, op, value)

    def _batch(self, base: str, items: list) -> list:
        """Apply a list of `{"p", "o"?, "v"}` patches relative to one path."""
        return [e for item in items for e in self._at(f"{base}/{item['p']}", item.get("o"), item.get("v"))]

    def _snapshot(self, response: dict) -> list:
        """The opening `{"v": {"response": {...}}}`: its text counts (a continue stream re-sends it all)."""
        self._note_message_id(response.get("message_id"))
        out = []
        if _text(response.get("thinking_content")):
            out += self._emit(REASONING, _text(response["thinking_content"]))
        if isinstance(response.get("fragments"), list):
            out += self._fragments_set(response["fragments"], p.OP_APPEND)
        if _text(response.get("content")):
            out += self._emit(ANSWER, _text(response["content"]))
        if isinstance(response.get("search_results"), list):
            self._search["old"] = list(response["search_results"])
        self._status(response.get("status"))
        return out

    def _at(self, path: str | None, op: str | None, value) -> list:
        """Apply one value at one path."""
        if not path:
            return []
        if not d.known_path(path):
            self._unknown(d.PATH, d.normalise_path(path), {"p": path, "o": op, "v": value})
        if path.endswith("quasi_status") or path == p.PATH_STATUS:
            self._status(value)
            return []
        if any(word in path for word in p.SKIPPED_PATH_WORDS):
            return []
        if path in (p.PATH_THINKING, p.PATH_CONTENT):
            text = _text(value)
            return self._emit(REASONING if path == p.PATH_THINKING else ANSWER, text) if text else []
        if path == p.PATH_SEARCH_RESULTS and isinstance(value, list):
            self._results("old", op, value)
        elif path == p.PATH_FRAGMENTS and isinstance(value, list):
            return self._fragments_set(value, op)
        elif path.startswith(p.PATH_FRAGMENTS + "/"):
            index, _, field = path[len(p.PATH_FRAGMENTS) + 1:].partition("/")
            if re.fullmatch(r"-?\d+", index):
                return self._fragment_field(int(index), field, op, value)
        return []

    def _fragments_set(self, fragments: list, op: str | None) -> list:
        """APPEND adds fragments; SET (or no op) replaces the list, emitting only what is new."""
        old = [] if op == p.OP_APPEND else self._fragments
        answered = any(f.kind == ANSWER and f.text for f in old)
        if op != p.OP_APPEND:
            self._fragments = []
        out = []
        for fragment in fragments:
            if not isinstance(fragment, dict):
                continue
            kind = str(fragment.get("type", ""))
            if kind not in p.KNOWN_FRAGMENTS:
                self._unknown(d.FRAGMENT, kind, fragment)
            self._fragments.append(_Fragment(_category(kind), kind))
            index = len(self._fragments) - 1
            for field in ("results", "references"):
                if isinstance(fragment.get(field), list):
                    self._results((index, field), p.OP_SET, fragment[field])
            text = _text(fragment.get("content")) or ""
            previous = old[index] if index < len(old) else None
            if previous and previous.kind == self._fragments[index].kind and text.startswith(previous.text):
                self._fragments[index].text = previous.text
                text = text[len(previous.text):]
            elif answered and self._fragments[index].kind == ANSWER:
                # The service replaced text we already sent (a content filter): we cannot take it back, so
                # the notice is kept aside rather than appended to an answer it contradicts.
                self.withheld += text
                continue
            out += self._fragment_text(index, text)
        return out

    def _fragment_field(self, index: int, field: str, op: str | None, value) -> list:
        position = index if index >= 0 else len(self._fragments) + index
        if not 0 <= position < len(self._fragments):
            return []
        fragment = self._fragments[position]
        if "/" + field == p.FRAGMENT_TEXT_SUFFIX:
            text = _text(value)
            if text is None:
                return []
            if op == p.OP_SET and text.startswith(fragment.text):
                text = text[len(fragment.text):]
            return self._fragment_text(position, text)
        if "/" + field in p.FRAGMENT_RESULT_SUFFIXES and isinstance(value, list):
            self._results((position, field), op, value)
        return []

    def _results(self, key, op: str | None, results: list) -> None:
        """Search results at one place: appended to, or replaced."""
        self._search[key] = (self._search.get(key, []) + results) if op == p.OP_APPEND else list(results)

    def _fragment_text(self, index: int, text: str) -> list:
        """Text of a fragment: reasoning or answer by its type; search fragments' text is reasoning-side."""
        fragment = self._fragments[index]
        if not text or fragment.kind == OTHER:
            return []
        out = self._emit(fragment.kind, text)
        fragment.text += text
        return out

    def _emit(self, kind: str, text: str) -> list:
        """Count the raw text and drop what a continue stream repeats; answer text is content, the rest reasoning."""
        held = self.skip.get(kind, 0)
        if held:
            dropped = min(held, len(text))
            self.skip[kind] = held - dropped
            text = text[dropped:]
        if not text:
            return []
        self.received[kind] = self.received.get(kind, 0) + len(text)
        return [Text(content=text) if kind == ANSWER else Text(reasoning=text)]

    def _status(self, value) -> None:
        if not isinstance(value, str):
            return
        if value in (p.STATUS_FINISHED, p.STATUS_INCOMPLETE, p.STATUS_CONTENT_FILTER):
            # FINISHED may be provisional: a content filter can still follow and replace it.
            if self.status != p.STATUS_CONTENT_FILTER:
                self.status = value
        elif value in p.STATUS_ERRORS:
            raise WebStreamError(f"the web chat ended the answer with {value}", p.STATUS_ERRORS[value])
        elif value not in p.KNOWN_STATUSES:
            self._unknown(d.STATUS, value, value)

    def _note_message_id(self, value) -> None:
        if self.message_id is None and isinstance(value, int):
            self.message_id = value
            if self.resumes is not None and value != self.resumes:
                # A new message (fallback_to_resume made one): trim nothing, a repeat is better than a gap.
                self.skip, self.received = {}, {}


def _is_batch(value) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(i, dict) and isinstance(i.get("p"), str)
                                                           for i in value)

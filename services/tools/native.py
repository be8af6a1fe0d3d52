"""Native tool calls from API providers, normalised whatever their quirks into ToolCallDelta events."""

from __future__ import annotations

import json
from dataclasses import dataclass

from services.events import ToolCallDelta
from services.tools.request import new_call_id


@dataclass
class _Call:
    index: int
    id: str | None
    name: str = ""
    arguments: str = ""
    started: bool = False
    pending: str = ""   # argument text that arrived before the name


class NativeToolCalls:
    """Feed each delta's `tool_calls` list; get events with our own numbering, one start per call.

    Handles a whole call in one delta, a missing or repeated `index`, a missing id, `arguments` sent as an
    object, and a name or id repeated on every fragment.
    """

    __slots__ = ("_calls", "_by_key")  # one of each per open stream

    def __init__(self) -> None:
        self._calls: list[_Call] = []
        self._by_key: dict = {}     # the provider's index (or id) -> our call

    @property
    def made_calls(self) -> bool:
        """Tell whether the answer made any call."""
        return bool(self._calls)

    def feed(self, fragments) -> list[ToolCallDelta]:
        """Normalise one list of fragments (a streamed delta's, or a whole message's calls)."""
        out: list[ToolCallDelta] = []
        for position, fragment in enumerate(fragments if isinstance(fragments, list) else [fragments]):
            if not isinstance(fragment, dict):
                continue
            function = fragment.get("function") if isinstance(fragment.get("function"), dict) else {}
            call = self._call_for(fragment, function, position)
            if function.get("name") and not call.name:
                call.name = str(function["name"])
            piece = _arguments_text(function.get("arguments"))
            if not call.started:
                call.pending += piece
                if call.name:
                    call.started = True
                    call.id = call.id or new_call_id()
                    out.append(ToolCallDelta(call.index, call.id, call.name, ""))
                    piece, call.pending = call.pending, ""
                else:
                    continue
            if piece:
                call.arguments += piece
                out.append(ToolCallDelta(call.index, arguments=piece))
        return out

    def flush(self) -> list[ToolCallDelta]:
        """Calls that never got a name still go out, so the client sees every call it was sent."""
        out = []
        for call in self._calls:
            if not call.started:
                call.started, call.id = True, call.id or new_call_id()
                out.append(ToolCallDelta(call.index, call.id, call.name, ""))
                if call.pending:
                    out.append(ToolCallDelta(call.index, arguments=call.pending))
        return out

    def finish_reason(self, reason: str) -> str:
        """The answer's finish reason: "tool_calls" when it made calls, though the provider said "stop"."""
        return "tool_calls" if self._calls and reason in ("stop", "function_call") else reason

    def _call_for(self, fragment: dict, function: dict, position: int) -> _Call:
        """The call a fragment belongs to: by index, else by id, else a named fragment opens a new one."""
        index, call_id = fragment.get("index"), fragment.get("id") or None
        if isinstance(index, int) and not isinstance(index, bool):
            call = self._by_key.get(("index", index))
            # The same index with a different id: a provider that numbers every call 0.
            if call is not None and not (call_id and call.id and call_id != call.id):
                return call
            return self._new(("index", index), call_id)
        if call_id:
            return self._by_key.get(("id", call_id)) or self._new(("id", call_id), call_id)
        last = self._calls[-1] if self._calls else None
        name = function.get("name")
        if last is None or (name and (position > 0 or name != last.name or _complete(last.arguments))):
            return self._new(("position", len(self._calls)), None)
        return last

    def _new(self, key, call_id: str | None) -> _Call:
        call = _Call(len(self._calls), call_id)
        self._calls.append(call)
        self._by_key[key] = call
        if call_id:
            self._by_key[("id", call_id)] = call
        return call


def _arguments_text(arguments) -> str:
    """Arguments as JSON text: a provider may send an object instead of a string."""
    if arguments is None:
        return ""
    if isinstance(arguments, str):
        return arguments
    return json.dumps(arguments, ensure_ascii=False)


def _complete(arguments: str) -> bool:
    """Tell whether argument text is already a whole JSON value (so a new named fragment is a new call)."""
    try:
        json.loads(arguments)
    except ValueError:
        return False
    return True

"""Tools for a provider that has none (the web chat): the prompt going up, the sieve on the way back."""

from __future__ import annotations

import math
import time

import hashlib
from dataclasses import replace
from typing import Iterator

from services.chat_call import ChatCall
from services.credentials import Token
from services.events import Conversation, Finish, Text
from services.offload import hub_pause
from services.store import ResponseStore
from services.store.memory import MemoryStore
from services.tools.history import plain_messages, with_block
from services.tools.prompt import tool_block
from services.tools.sieve import ToolSieve
from services.tools.stops import StoppedStream, WrappedStream, stop_sequences

MEMORY_LIMIT = 10000   # call ids and sessions remembered per worker when nothing is shared
PAUSE_AFTER = 0.01      # seconds of reading a fast upstream before a pause for the worker's other streams
TOOL_FIELDS = ("tools", "tool_choice", "parallel_tool_calls", "functions", "function_call")


class Recollection:
    """What the gateway remembers of emulated rounds: the text behind call ids, the tools of a session
    (in this worker's memory by default, or in a store every worker shares)."""

    def __init__(self, answers: ResponseStore | None = None, sessions: ResponseStore | None = None):
        # In memory the rounds are bounded by count alone: they matter for as long as their session lives.
        self._answers = answers if answers is not None else MemoryStore(math.inf, MEMORY_LIMIT)
        self._sessions = sessions if sessions is not None else MemoryStore(math.inf, MEMORY_LIMIT)

    def remember_answer(self, call_ids: list[str], text: str) -> None:
        """Record the text the model wrote for the calls that were parsed out of it."""
        for call_id in call_ids:
            self._answers.put(call_id, {"text": text})

    def recall(self, call_ids: list) -> str | None:
        """The text behind an assistant turn's calls, if the gateway parsed them."""
        texts = {(self._answers.get(i) or {}).get("text") if isinstance(i, str) else None for i in call_ids}
        return texts.pop() if len(texts) == 1 else None

    def session_saw(self, session_id: str, digest: str) -> None:
        """Record that a web session's prompt holds the tool block with this digest."""
        self._sessions.put(session_id, {"digest": digest})

    def session_tools(self, session_id: str) -> str | None:
        """The digest of the tool block a session last saw."""
        return (self._sessions.get(session_id) or {}).get("digest")


class ToolEmulation:
    """Wraps the adapter of a provider without native tools; the adapter sees a plain prompt and yields
    plain text, from which the sieve recovers the calls."""

    def __init__(self, inner, memory: Recollection | None = None):
        self.inner = inner
        self.memory = memory or Recollection()

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def pin(self, call: ChatCall, tokens: list[Token]) -> list[Token]:
        """Pin on the call as the upstream will see it (continuation fingerprints depend on it)."""
        return self.inner.pin(self.prepare(call), tokens)

    def check(self, token: Token):
        """Check a token with the wrapped adapter (its verdict as that adapter gives it)."""
        return self.inner.check(token)

    def open(self, call: ChatCall, token: Token):
        """Open the upstream answer on the plain prompt, read back through the sieve."""
        prepared = self.prepare(call)
        stream = self.inner.open(prepared, token)
        if call.tools.active:
            stream = EmulatedStream(stream, call, self.memory, _digest(tool_block(call.tools)))
        stops = stop_sequences(call.body.get("stop"))
        # The web chat has no stop sequences: the text is cut here, after the sieve, so that they apply to
        # the answer's text only and a call whose arguments hold one stays whole.
        return StoppedStream(stream, stops) if stops else stream

    def prepare(self, call: ChatCall) -> ChatCall:
        """The call without tool fields: tool history as text, the tool block where the upstream needs it."""
        history = any(m.get("role") == "tool" or m.get("tool_calls") for m in call.messages)
        if not call.tools.active and not history and not any(k in call.body for k in TOOL_FIELDS):
            return call
        messages = plain_messages(call.messages, self.memory.recall)
        if call.tools.active:
            block = tool_block(call.tools)
            session = _continued_session(call)
            if session is None:
                messages = with_block(messages, block, at_start=True)
            elif self.memory.session_tools(session) != _digest(block):
                messages = with_block(messages, block, at_start=False)
        body = {k: v for k, v in call.body.items() if k not in TOOL_FIELDS}
        body["messages"] = messages
        return replace(call, body=body)


class EmulatedStream(WrappedStream):
    """An upstream answer whose content goes through the sieve; reasoning is never searched for calls."""

    def __init__(self, inner, call: ChatCall, memory: Recollection, digest: str):
        super().__init__(inner)
        self.call, self.memory, self.digest = call, memory, digest

    def events(self, *idle) -> Iterator:
        """The upstream's events with tool-call markup turned into ToolCallDelta events."""
        sieve = ToolSieve(self.call.tools, self.call.id)
        written: list[str] = []
        pause, paused = hub_pause(), time.monotonic()
        for event in self.inner.events(*idle):
            if isinstance(event, Text):
                if event.reasoning:
                    yield Text(reasoning=event.reasoning)
                if event.content:
                    written.append(event.content)
                    yield from sieve.feed(event.content)
                    # An upstream faster than us never makes its reads wait: let the worker's other streams in.
                    if pause and time.monotonic() - paused > PAUSE_AFTER:
                        pause()
                        paused = time.monotonic()
            elif isinstance(event, Finish):
                yield from sieve.flush()
                if sieve.calls:
                    self.memory.remember_answer([c.id for c in sieve.calls], "".join(written))
                yield Finish("tool_calls") if sieve.calls else event
            else:
                if isinstance(event, Conversation):
                    self.memory.session_saw(event.id.rpartition("@")[0], self.digest)
                yield event


def _continued_session(call: ChatCall) -> str | None:
    """The session a `conversation_id` continues natively, if the call names one."""
    conversation_id = call.body.get("conversation_id")
    if isinstance(conversation_id, str) and "@" in conversation_id:
        return conversation_id.rpartition("@")[0] or None
    return None


def _digest(block: str) -> str:
    return hashlib.sha256(block.encode()).hexdigest()[:16]

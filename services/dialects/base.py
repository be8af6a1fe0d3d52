"""What every dialect's renderer shares: the answer as it accumulates from the internal events."""

from __future__ import annotations

import json

from services.chat_call import ChatCall
from services.errors import GatewayError
from services.events import Conversation, Finish, Text, ToolCallDelta, Usage
from services.sse import KEEPALIVE_COMMENT


class Renderer:
    """Collects one answer's text, reasoning, tool calls, finish and usage; subclasses shape them for a client."""

    # `stream_event`, `keepalive`, `stream_end` and `stream_error` give the bytes of a streamed reply; `whole`
    # the object of a non-stream reply (`late_error` one that failed after its 200); `error_body` the error object.
    dialect = ""

    def __init__(self, call: ChatCall):
        self.call = call
        self.content: list[str] = []
        self.reasoning: list[str] = []
        self.tool_calls: dict[int, dict] = {}   # index -> {"id", "type": "function", "function": {name, arguments}}
        self.finish_reason: str | None = None
        self.upstream_usage: Usage | None = None
        self.conversation: Conversation | None = None

    @property
    def text(self) -> str:
        """The answer text so far."""
        return "".join(self.content)

    @property
    def reasoning_text(self) -> str:
        """The reasoning so far."""
        return "".join(self.reasoning)

    @property
    def tool_call_text(self) -> str:
        """The calls' names and arguments: what the model wrote for them, for counting usage."""
        return "".join(c["function"]["name"] + c["function"]["arguments"] for c in self.tool_calls.values())

    def calls(self) -> list[dict]:
        """The tool calls in the order the model made them."""
        return [self.tool_calls[i] for i in sorted(self.tool_calls)]

    def call_complete(self, index: int) -> bool:
        """Tell whether a call's arguments so far are a whole JSON object (no piece can follow one)."""
        try:
            return isinstance(json.loads(self.tool_calls[index]["function"]["arguments"]), dict)
        except ValueError:
            return False

    def record(self, event) -> None:
        """Take one internal event into the answer."""
        if isinstance(event, Conversation):
            self.conversation = event
        elif isinstance(event, Usage):
            self.upstream_usage = event
        elif isinstance(event, Text):
            if event.reasoning:
                self.reasoning.append(event.reasoning)
            if event.content:
                self.content.append(event.content)
        elif isinstance(event, ToolCallDelta):
            call = self.tool_calls.setdefault(event.index, {"id": None, "type": "function",
                                                            "function": {"name": "", "arguments": ""}})
            if event.starts_call:
                call["id"], call["function"]["name"] = event.id, event.name or ""
            call["function"]["arguments"] += event.arguments
        elif isinstance(event, Finish):
            self.finish_reason = event.reason

    # ---- what a dialect defines ------------------------------------------------------------------------

    def stream_event(self, event) -> bytes:
        """Record an event and return the stream bytes it produces (maybe none)."""
        raise NotImplementedError

    def keepalive(self) -> bytes:
        """The stream's keep-alive, in the dialect's own form."""
        return KEEPALIVE_COMMENT

    def stream_end(self, usage: Usage) -> bytes:
        """The bytes that close a stream that completed."""
        raise NotImplementedError

    def stream_error(self, error: GatewayError) -> bytes:
        """The bytes that tell a streaming client the answer failed after its first byte."""
        raise NotImplementedError

    def whole(self, usage: Usage) -> dict:
        """The complete answer as one object."""
        raise NotImplementedError

    @staticmethod
    def error_body(error: GatewayError) -> dict:
        """The dialect's error object (OpenAI's by default)."""
        return error.body()

    def late_error(self, error: GatewayError, usage: Usage) -> dict:
        """The non-stream body of an answer that failed after its 200 was committed (the error object by default)."""
        # The SDKs of Chat and Messages parse a 200 as their answer object whatever it holds, so the error
        # object leaves `choices`/`content` empty and its `error` readable: the best a 200 can say.
        return self.error_body(error)

"""What every dialect's renderer shares: the answer as it accumulates from the internal events."""

from __future__ import annotations

import json
from typing import Callable, Container

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
        self.stop_sequence: str | None = None   # the stop sequence that ended the answer, if one did
        self.upstream_usage: Usage | None = None
        self.conversation: Conversation | None = None
        self.waiting_calls: list[int] = []     # calls begun while another's block was open: sent whole later

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

    def ordered_call_piece(self, event: ToolCallDelta, started: Container[int], open_call: Callable[[], int | None],
                           open_block: Callable[[int], list[bytes]], piece: Callable[[str], list[bytes]]) -> list[bytes]:
        """Stream one call delta so that one call's block is open at a time, in the order the calls began."""
        # Upstreams may interleave parallel calls (0 starts, 1 starts, 0's arguments, 1's): a call begun while
        # another is incomplete waits, whole in `tool_calls`, for its turn. The dialect says how a block opens.
        index, out = event.index, []
        if index in started:
            if open_call() == index and event.arguments:
                out += piece(event.arguments)
        elif index not in self.waiting_calls:
            current = open_call()
            if current is not None and not self.call_complete(current):
                self.waiting_calls.append(index)
            else:
                out += open_block(index)
        while self.waiting_calls and open_call() is not None and self.call_complete(open_call()):
            out += open_block(self.waiting_calls.pop(0))
        return out

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
            self.finish_reason, self.stop_sequence = event.reason, event.stop_sequence

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

"""The Anthropic Messages dialect's renderer: `message` objects, its named SSE events, its error shape."""

from __future__ import annotations

import json

from services.chat_call import ChatCall
from services.dialects.anthropic_request import (DEFAULT_CLAUDE_MAP, flat_text, parse_model_map, to_call,
                                                 tool_use_id)
from services.dialects.base import Renderer
from services.errors import GatewayError, PayloadTooLarge
from services.events import Text, ToolCallDelta, Usage
from services.sse import data_event

# Anthropic's error type for each of our statuses; its own statuses stay ours (a 502 is still a 502).
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
               403: "permission_error", 404: "not_found_error", 405: "invalid_request_error",
               413: "request_too_large", 415: "invalid_request_error", 422: "invalid_request_error",
               429: "rate_limit_error", 503: "overloaded_error", 529: "overloaded_error"}
STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use",
                "function_call": "tool_use", "content_filter": "refusal"}
# Clients echo a thinking block's signature back; it only has to be a non-empty string, and we ignore it.
SIGNATURE = "freeseek"


def usage_of(usage: Usage) -> dict:
    """Anthropic's usage object: input tokens exclude the ones read from the cache."""
    cached = usage.cached_tokens or 0
    return {"input_tokens": max(0, usage.prompt_tokens - cached), "output_tokens": usage.completion_tokens,
            "cache_read_input_tokens": cached, "cache_creation_input_tokens": 0}


def _event(kind: str, **fields) -> bytes:
    """One Anthropic event: its data's `type` names it."""
    return data_event({"type": kind, **fields}, kind)


class MessagesRenderer(Renderer):
    """Shapes the answer as Anthropic content blocks: thinking first, then text, then `tool_use`."""

    dialect = "anthropic_messages"

    def __init__(self, call: ChatCall, model: str, stop_sequences: list[str] | None = None, counter=None):
        super().__init__(call)
        self.model = model   # the name the client asked for, echoed back as Anthropic does
        self.stop_sequences = stop_sequences or []
        self.counter = counter
        self._started = False
        self._blocks: list[str] = []           # the kind of each block opened so far
        self._open: int | None = None          # the index of the block receiving deltas
        self._call_blocks: dict[int, int] = {}  # tool call index -> block index

    # ---- stream ------------------------------------------------------------------------------------------

    def stream_event(self, event) -> bytes:
        """Record one event and return the Anthropic events it produces."""
        self.record(event)
        out: list[bytes] = []
        if isinstance(event, Text):
            if event.reasoning:
                out += self._into("thinking", {"type": "thinking", "thinking": ""},
                                  {"type": "thinking_delta", "thinking": event.reasoning})
            if event.content:
                out += self._into("text", {"type": "text", "text": ""}, {"type": "text_delta", "text": event.content})
        elif isinstance(event, ToolCallDelta):
            out += self._tool_piece(event)
        return self._start() + b"".join(out) if out else b""

    def keepalive(self) -> bytes:
        """Anthropic's `ping` event (after `message_start`, which a slow answer sends early)."""
        return self._start() + _event("ping")

    def stream_end(self, usage: Usage) -> bytes:
        """Close the open block (then send waiting calls), then `message_delta` and `message_stop`."""
        reason, sequence = self.stop_reason()
        return (self._start() + self._flush() +
                _event("message_delta", delta={"stop_reason": reason, "stop_sequence": sequence},
                       usage=usage_of(usage)) +
                _event("message_stop"))

    def stream_error(self, error: GatewayError) -> bytes:
        """Anthropic's in-band error event."""
        return data_event(self.error_body(error), "error")

    def _start(self) -> bytes:
        """`message_start` once, with the prompt counted as its input tokens."""
        if self._started:
            return b""
        self._started = True
        prompt = self.counter.prompt(self.call.messages) if self.counter else 0
        message = {**self._message([]), "usage": {"input_tokens": prompt, "output_tokens": 0}}
        return _event("message_start", message=message)

    def _into(self, kind: str, block: dict, delta: dict) -> list[bytes]:
        """Send a delta to the open block of this kind, opening a new block when the kind changes."""
        out = []
        if self._open is None or self._blocks[self._open] != kind:
            out += [self._flush()] + self._open_block(kind, block)
        out.append(_event("content_block_delta", index=self._open, delta=delta))
        return out

    def _open_block(self, kind: str, block: dict) -> list[bytes]:
        """Close the open block and start a new one of this kind."""
        out = [self._close()]
        self._open = len(self._blocks)
        self._blocks.append(kind)
        out.append(_event("content_block_start", index=self._open, content_block=block))
        return out

    def _close(self) -> bytes:
        """Stop the open block (a thinking block gets its signature first)."""
        if self._open is None:
            return b""
        out = b""
        if self._blocks[self._open] == "thinking":
            out = _event("content_block_delta", index=self._open,
                         delta={"type": "signature_delta", "signature": SIGNATURE})
        out += _event("content_block_stop", index=self._open)
        self._open = None
        return out

    def _flush(self) -> bytes:
        """Close the open block, then send each waiting call as a whole block, in order."""
        out = self._close()
        while self.waiting_calls:
            out += b"".join(self._open_call(self.waiting_calls.pop(0))) + self._close()
        return out

    def _tool_piece(self, event: ToolCallDelta) -> list[bytes]:
        """Stream a piece of a call into its open block, or hold it while another call's block is open."""
        return self.ordered_call_piece(event, self._call_blocks, self._open_call_index, self._open_call,
                                       lambda arguments: [self._json_delta(arguments)])

    def _open_call_index(self) -> int | None:
        """The call whose block is open, if one is."""
        return next((i for i, block in self._call_blocks.items() if block == self._open), None)

    def _open_call(self, index: int) -> list[bytes]:
        """Open a call's `tool_use` block with the arguments it has so far."""
        call = self.tool_calls[index]
        out = self._open_block("tool_use", {"type": "tool_use", "id": tool_use_id(call["id"]),
                                            "name": call["function"]["name"], "input": {}})
        self._call_blocks[index] = self._open
        if call["function"]["arguments"]:
            out.append(self._json_delta(call["function"]["arguments"]))
        return out

    def _json_delta(self, text: str) -> bytes:
        """A piece of the open call's input."""
        return _event("content_block_delta", index=self._open, delta={"type": "input_json_delta", "partial_json": text})

    # ---- whole -------------------------------------------------------------------------------------------

    def whole(self, usage: Usage) -> dict:
        """The answer as one `message` object."""
        blocks: list[dict] = []
        if self.reasoning:
            blocks.append({"type": "thinking", "thinking": self.reasoning_text, "signature": SIGNATURE})
        if self.content:
            blocks.append({"type": "text", "text": self.text})
        for call in self.calls():
            blocks.append({"type": "tool_use", "id": tool_use_id(call["id"]), "name": call["function"]["name"],
                           "input": _input(call["function"]["arguments"])})
        reason, sequence = self.stop_reason()
        return {**self._message(blocks), "stop_reason": reason, "stop_sequence": sequence, "usage": usage_of(usage)}

    def _message(self, content: list) -> dict:
        """The `message` object around these blocks, without its stop reason and usage."""
        return {"id": self.call.id, "type": "message", "role": "assistant",
                "model": self.call.model.reported(self.model),
                "content": content, "stop_reason": None, "stop_sequence": None}

    def stop_reason(self) -> tuple[str, str | None]:
        """Anthropic's stop reason (and the stop sequence met, when the text ends on one the client gave)."""
        reason = STOP_REASONS.get(self.finish_reason or "stop", "end_turn")
        if reason == "tool_use" and not self.tool_calls:
            reason = "end_turn"
        if reason == "end_turn" and self.stop_sequence:
            return "stop_sequence", self.stop_sequence
        return reason, None

    @staticmethod
    def error_body(error: GatewayError) -> dict:
        """Anthropic's error object."""
        kind = ERROR_TYPES.get(error.status, "api_error" if error.status >= 500 else "invalid_request_error")
        return {"type": "error", "error": {"type": kind, "message": error.message}}


def _input(arguments: str) -> dict:
    """A call's arguments as the object `tool_use.input` must be."""
    try:
        value = json.loads(arguments) if arguments.strip() else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class AnthropicMessages:
    """The dialect's entry: a Messages body to the internal call and its renderer, and token counts."""

    def __init__(self, model_map: str, counter, max_count_bytes: int = 1 << 20):
        self.model_map = parse_model_map(model_map or DEFAULT_CLAUDE_MAP)
        self.counter = counter
        self.max_count_bytes = max_count_bytes

    def prepare(self, body: dict) -> tuple[ChatCall, MessagesRenderer]:
        """Read a validated Messages body as the internal call, with the renderer that answers it."""
        call = to_call(body, self.model_map)
        return call, MessagesRenderer(call, body["model"], body.get("stop_sequences"), self.counter)

    def count_tokens(self, body: dict) -> dict:
        """`{"input_tokens": N}`: the flattened request counted with DeepSeek's tokenizer."""
        call = to_call({**body, "max_tokens": 1, "stream": False}, self.model_map)
        text = flat_text(call)
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > self.max_count_bytes:
            # Counting costs seconds of CPU a megabyte (more for text of few repeats); more fits no model's context.
            raise PayloadTooLarge(f"count_tokens counts at most {self.max_count_bytes} bytes of text "
                                  f"(FREESEEK_COUNT_TOKENS_MAX_BYTES); this request has {size}.", param="messages")
        return {"input_tokens": self.counter.count(text)}

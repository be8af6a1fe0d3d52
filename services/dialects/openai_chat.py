"""The OpenAI Chat Completions dialect: the body is already the internal call; chunks or one completion out."""

from __future__ import annotations

from services.chat_call import ChatCall
from services.dialects.base import Renderer
from services.errors import GatewayError
from services.events import Conversation, Finish, Text, ToolCallDelta, Usage
from services.sse import DONE, data_event

FOLD_OPEN, FOLD_CLOSE = "<details>\n<summary>Reasoning</summary>\n\n", "\n\n</details>\n\n"


def parse(body: dict) -> ChatCall:
    """Read a validated chat completion body as the internal call."""
    return ChatCall.from_body(body)


class ChatRenderer(Renderer):
    """Shapes the answer as `chat.completion.chunk`s with one id throughout, or one `chat.completion`."""

    dialect = "openai_chat"

    def __init__(self, call: ChatCall):
        super().__init__(call)
        self.id = call.id
        self._role_sent = False
        self._folding = False

    def chunk(self, delta: dict, finish_reason: str | None = None) -> dict:
        """One `chat.completion.chunk` with this answer's id, created time and model."""
        chunk = {"id": self.id, "object": "chat.completion.chunk", "created": self.call.created,
                 "model": self.call.model.name,
                 "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]}
        if self.call.include_usage:
            chunk["usage"] = None
        return chunk

    def record(self, event) -> None:
        """Take one event; the web chat's conversation id becomes the answer's id (`<session>@<message>`)."""
        super().record(event)
        if isinstance(event, Conversation):
            self.id = event.id

    def stream_event(self, event) -> bytes:
        """Record one event and return the chunks it produces."""
        chunks = self.apply(event)
        return data_event(chunks[0]) if len(chunks) == 1 else b"".join([data_event(chunk) for chunk in chunks])

    def apply(self, event) -> list[dict]:
        """Take one event into the answer and return the chunks it produces for a stream."""
        self.record(event)
        deltas: list[dict] = []
        if isinstance(event, Text):
            deltas = self._text_deltas(event)
        elif isinstance(event, ToolCallDelta):
            deltas = self._tool_call_deltas(event)
        elif isinstance(event, Finish) and self._folding:
            self._folding = False
            deltas = [{"content": FOLD_CLOSE}]
        chunks = [self.chunk(delta) for delta in deltas]
        if chunks and not self._role_sent:
            self._role_sent = True
            chunks.insert(0, self.chunk({"role": "assistant", "content": ""}))
        return chunks

    def stream_end(self, usage: Usage) -> bytes:
        """The closing chunk, the usage chunk when the client asked for it, then [DONE]."""
        return b"".join(data_event(c) for c in self.finish_chunks(usage)) + DONE

    def stream_error(self, error: GatewayError) -> bytes:
        """OpenAI's in-band error: a `data:` event holding the error object."""
        return data_event(error.body())

    def finish_chunks(self, usage: Usage) -> list[dict]:
        """The closing chunk, then the usage chunk when the client asked for it."""
        chunks = [] if self._role_sent else [self.chunk({"role": "assistant", "content": ""})]
        self._role_sent = True
        chunks.append(self.chunk({}, self._finish_reason()))
        if self.call.include_usage:
            chunks.append({"id": self.id, "object": "chat.completion.chunk", "created": self.call.created,
                           "model": self.call.model.name, "choices": [], "usage": usage.as_openai()})
        return chunks

    def whole(self, usage: Usage) -> dict:
        """The whole answer as one `chat.completion`."""
        content = self._folded_text()
        # With calls and nothing said before them, content is null, as OpenAI's own models answer.
        message: dict = {"role": "assistant", "content": content if content or not self.tool_calls else None}
        if self.reasoning and not self.call.model.fold:
            message["reasoning_content"] = self.reasoning_text
        if self.tool_calls and self.call.legacy_functions:
            message["function_call"] = self.tool_calls[min(self.tool_calls)]["function"]
        elif self.tool_calls:
            message["tool_calls"] = self.calls()
        return {"id": self.id, "object": "chat.completion", "created": self.call.created,
                "model": self.call.model.name,
                "choices": [{"index": 0, "message": message, "logprobs": None,
                             "finish_reason": self._finish_reason()}],
                "usage": usage.as_openai(), "system_fingerprint": None}

    def _text_deltas(self, event: Text) -> list[dict]:
        """The deltas of a text event: reasoning apart, or folded into the content for a fold model."""
        deltas = []
        if event.reasoning:
            if self.call.model.fold:
                prefix = "" if self._folding else FOLD_OPEN
                self._folding = True
                deltas.append({"content": prefix + event.reasoning})
            else:
                deltas.append({"reasoning_content": event.reasoning})
        if event.content:
            prefix = ""
            if self._folding:
                self._folding, prefix = False, FOLD_CLOSE
            deltas.append({"content": prefix + event.content})
        return deltas

    def _folded_text(self) -> str:
        """The whole answer's content, with the reasoning folded in front for a fold model."""
        if self.call.model.fold and self.reasoning:
            return FOLD_OPEN + self.reasoning_text + FOLD_CLOSE + self.text
        return self.text

    def _finish_reason(self) -> str:
        """The finish reason in the client's terms (legacy function calls say function_call)."""
        reason = self.finish_reason or "stop"
        if reason == "tool_calls" and self.call.legacy_functions:
            return "function_call"
        return reason

    def _tool_call_deltas(self, event: ToolCallDelta) -> list[dict]:
        """Render one piece of a call (already merged into its whole call) as a stream delta."""
        if self.call.legacy_functions:
            if event.index != min(self.tool_calls):
                return []   # the legacy reply holds one call
            piece = {"name": event.name or "", "arguments": event.arguments} if event.starts_call else \
                {"arguments": event.arguments}
            return [{"function_call": piece}]
        if event.starts_call:
            piece = {"index": event.index, "id": event.id, "type": "function",
                     "function": {"name": event.name or "", "arguments": event.arguments}}
        else:
            piece = {"index": event.index, "function": {"arguments": event.arguments}}
        return [{"tool_calls": [piece]}]

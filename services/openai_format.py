"""One answer rendered in OpenAI's grammar: stream chunks as it grows, or one completion at the end."""

from __future__ import annotations

from services.chat_call import ChatCall
from services.events import Conversation, Finish, Text, ToolCallDelta, Usage

FOLD_OPEN, FOLD_CLOSE = "<details>\n<summary>Reasoning</summary>\n\n", "\n\n</details>\n\n"


class Answer:
    """Accumulates the answer's text, reasoning and tool calls, and shapes chunks with one id throughout."""

    def __init__(self, call: ChatCall):
        self.call = call
        self.id = call.id
        self.content: list[str] = []
        self.reasoning: list[str] = []
        self.tool_calls: dict[int, dict] = {}
        self.finish_reason: str | None = None
        self.upstream_usage: Usage | None = None
        self._role_sent = False
        self._folding = False

    @property
    def text(self) -> str:
        """The answer text so far (without folded reasoning)."""
        return "".join(self.content)

    @property
    def reasoning_text(self) -> str:
        """The reasoning so far."""
        return "".join(self.reasoning)

    @property
    def tool_call_text(self) -> str:
        """The calls' names and arguments: what the model wrote for them, for counting usage."""
        return "".join(c["function"]["name"] + c["function"]["arguments"] for c in self.tool_calls.values())

    def chunk(self, delta: dict, finish_reason: str | None = None) -> dict:
        """One `chat.completion.chunk` with this answer's id, created time and model."""
        chunk = {"id": self.id, "object": "chat.completion.chunk", "created": self.call.created,
                 "model": self.call.model.name,
                 "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]}
        if self.call.include_usage:
            chunk["usage"] = None
        return chunk

    def apply(self, event) -> list[dict]:
        """Take one event into the answer and return the chunks it produces for a stream."""
        deltas: list[dict] = []
        if isinstance(event, Conversation):
            self.id = event.id
        elif isinstance(event, Usage):
            self.upstream_usage = event
        elif isinstance(event, Text):
            deltas = self._text_deltas(event)
        elif isinstance(event, ToolCallDelta):
            deltas = self._tool_call_deltas(event)
        elif isinstance(event, Finish):
            self.finish_reason = event.reason
            if self._folding:
                self._folding = False
                deltas = [{"content": FOLD_CLOSE}]
        chunks = [self.chunk(delta) for delta in deltas]
        if chunks and not self._role_sent:
            self._role_sent = True
            chunks.insert(0, self.chunk({"role": "assistant", "content": ""}))
        return chunks

    def finish_chunks(self, usage: Usage) -> list[dict]:
        """The closing chunk, then the usage chunk when the client asked for it."""
        chunks = [] if self._role_sent else [self.chunk({"role": "assistant", "content": ""})]
        self._role_sent = True
        chunks.append(self.chunk({}, self._finish_reason()))
        if self.call.include_usage:
            chunks.append({"id": self.id, "object": "chat.completion.chunk", "created": self.call.created,
                           "model": self.call.model.name, "choices": [], "usage": usage.as_openai()})
        return chunks

    def completion(self, usage: Usage) -> dict:
        """The whole answer as one `chat.completion`."""
        content = self._folded_text()
        # With calls and nothing said before them, content is null, as OpenAI's own models answer.
        message: dict = {"role": "assistant", "content": content if content or not self.tool_calls else None}
        if self.reasoning and not self.call.model.fold:
            message["reasoning_content"] = self.reasoning_text
        if self.tool_calls and self.call.legacy_functions:
            message["function_call"] = self.tool_calls[min(self.tool_calls)]["function"]
        elif self.tool_calls:
            message["tool_calls"] = [self.tool_calls[i] for i in sorted(self.tool_calls)]
        return {"id": self.id, "object": "chat.completion", "created": self.call.created,
                "model": self.call.model.name,
                "choices": [{"index": 0, "message": message, "logprobs": None,
                             "finish_reason": self._finish_reason()}],
                "usage": usage.as_openai(), "system_fingerprint": None}

    def _text_deltas(self, event: Text) -> list[dict]:
        deltas = []
        if event.reasoning:
            self.reasoning.append(event.reasoning)
            if self.call.model.fold:
                prefix = "" if self._folding else FOLD_OPEN
                self._folding = True
                deltas.append({"content": prefix + event.reasoning})
            else:
                deltas.append({"reasoning_content": event.reasoning})
        if event.content:
            self.content.append(event.content)
            prefix = ""
            if self._folding:
                self._folding, prefix = False, FOLD_CLOSE
            deltas.append({"content": prefix + event.content})
        return deltas

    def _folded_text(self) -> str:
        if self.call.model.fold and self.reasoning:
            return FOLD_OPEN + self.reasoning_text + FOLD_CLOSE + self.text
        return self.text

    def _finish_reason(self) -> str:
        reason = self.finish_reason or "stop"
        if reason == "tool_calls" and self.call.legacy_functions:
            return "function_call"
        return reason

    def _tool_call_deltas(self, event: ToolCallDelta) -> list[dict]:
        """Merge one piece into its whole call, and render it as a stream delta."""
        call = self.tool_calls.setdefault(event.index, {"id": None, "type": "function",
                                                        "function": {"name": "", "arguments": ""}})
        if event.starts_call:
            call["id"], call["function"]["name"] = event.id, event.name or ""
        call["function"]["arguments"] += event.arguments
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

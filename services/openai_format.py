"""One answer rendered in OpenAI's grammar: stream chunks as it grows, or one completion at the end."""

from __future__ import annotations

from services.chat_call import ChatCall
from services.events import Conversation, Finish, Text, ToolCalls, Usage

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
        elif isinstance(event, ToolCalls):
            self._merge_tool_calls(event.calls)
            deltas = [{"tool_calls": event.calls}]
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
        chunks.append(self.chunk({}, self.finish_reason or "stop"))
        if self.call.include_usage:
            chunks.append({"id": self.id, "object": "chat.completion.chunk", "created": self.call.created,
                           "model": self.call.model.name, "choices": [], "usage": usage.as_openai()})
        return chunks

    def completion(self, usage: Usage) -> dict:
        """The whole answer as one `chat.completion`."""
        message: dict = {"role": "assistant", "content": self._folded_text()}
        if self.reasoning and not self.call.model.fold:
            message["reasoning_content"] = self.reasoning_text
        if self.tool_calls:
            message["tool_calls"] = [self.tool_calls[i] for i in sorted(self.tool_calls)]
        return {"id": self.id, "object": "chat.completion", "created": self.call.created,
                "model": self.call.model.name,
                "choices": [{"index": 0, "message": message, "logprobs": None,
                             "finish_reason": self.finish_reason or "stop"}],
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

    def _merge_tool_calls(self, calls: list) -> None:
        """Assemble streamed tool-call fragments (arguments arrive in pieces) into whole calls."""
        for fragment in calls:
            if not isinstance(fragment, dict):
                continue
            index = fragment.get("index", len(self.tool_calls))
            call = self.tool_calls.setdefault(index, {"id": None, "type": "function",
                                                      "function": {"name": "", "arguments": ""}})
            if fragment.get("id"):
                call["id"] = fragment["id"]
            if fragment.get("type"):
                call["type"] = fragment["type"]
            function = fragment.get("function") or {}
            if function.get("name"):
                call["function"]["name"] += function["name"]
            if function.get("arguments"):
                call["function"]["arguments"] += function["arguments"]

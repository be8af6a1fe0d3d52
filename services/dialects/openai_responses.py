"""The OpenAI Responses dialect's renderer: `response` objects, output items and their numbered SSE events."""

from __future__ import annotations

import copy
import logging
import time
from typing import Callable

from services.chat_call import ChatCall
from services.dialects.base import Renderer
from services.dialects.responses_items import (custom_input, message_item, new_id, reasoning_item, tool_call_item,
                                              usage_of)
from services.dialects.responses_request import to_call
from services.dialects.responses_tools import read_tools
from services.errors import GatewayError, NotFound
from services.events import Text, ToolCallDelta, Usage
from services.sse import data_event
from services.store.responses import StoredResponses

log = logging.getLogger("freeseek")

INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


class ResponsesRenderer(Renderer):
    """Shapes the answer as output items (reasoning, message, function calls) and stores it when asked."""

    dialect = "openai_responses"

    def __init__(self, call: ChatCall, body: dict, transcript: list[dict], store: StoredResponses | None,
                 caller: str, not_stored: Callable[[str], None] = lambda reason: None):
        super().__init__(call)
        self.caller = caller   # whose response this is: only the same credential may continue it
        # The messages a continuation replays; not `conversation`, which is the provider's (base.Renderer).
        self.body, self.transcript, self.store = body, transcript, store
        # Whether the response is stored: what the request asked, until saving it fails or it is too large.
        self.stored = body.get("store", True) is not False
        self._not_stored = not_stored
        self.created_at = int(time.time())
        self._sequence = 0
        self._started = False
        self._items: list[dict] = []            # the output items streamed so far
        self._open: int | None = None           # output index of the item receiving deltas
        self._call_items: dict[int, int] = {}   # tool call index -> output index
        self.tools = read_tools(body.get("tools") or [])   # what each model-facing tool name stands for

    # ---- the response object -----------------------------------------------------------------------------

    def response(self, status: str, output: list[dict], usage: Usage | None = None,
                 error: GatewayError | None = None) -> dict:
        """The `response` object in a given state."""
        body = self.body
        reason = INCOMPLETE.get(self.finish_reason or "") if status == "incomplete" else None
        return {"id": self.call.id, "object": "response", "created_at": self.created_at, "status": status,
                "background": False, "error": {"code": error.code or "server_error", "message": error.message}
                if error else None,
                "incomplete_details": {"reason": reason} if reason else None,
                "instructions": body.get("instructions"), "max_output_tokens": body.get("max_output_tokens"),
                "model": self.call.model.reported(body["model"]), "output": output,
                "parallel_tool_calls": body.get("parallel_tool_calls", True),
                "previous_response_id": body.get("previous_response_id"),
                "reasoning": {"effort": (body.get("reasoning") or {}).get("effort"), "summary": None},
                "store": self.stored, "temperature": body.get("temperature"),
                "text": {"format": {"type": "text"}}, "tool_choice": body.get("tool_choice", "auto"),
                "tools": [t for t in body.get("tools") or [] if t.get("type") == "function"],
                "top_p": body.get("top_p"), "truncation": "disabled",
                "usage": usage_of(usage) if usage else None, "metadata": body.get("metadata") or {}}

    def status(self) -> str:
        """completed, or incomplete when the answer was cut (length, content filter)."""
        return "incomplete" if self.finish_reason in INCOMPLETE else "completed"

    def whole(self, usage: Usage) -> dict:
        """The answer as one `response` object (stored for `previous_response_id` unless `store` is false)."""
        self._save()
        return self.response(self.status(), self._whole_output("completed"), usage)

    def late_error(self, error: GatewayError, usage: Usage) -> dict:
        """A `failed` response with its error and what was said before it: what a slow answer that failed sends."""
        return self.response("failed", self._whole_output("incomplete"), usage, error)

    def _whole_output(self, status: str) -> list[dict]:
        """The output items of the whole answer: reasoning, the message, then the calls."""
        output = []
        if self.reasoning:
            output.append(reasoning_item(new_id("rs_"), self.reasoning_text))
        if self.content or not self.tool_calls:
            output.append(message_item(new_id("msg_"), self.text, status))
        return output + [self._call_item(call, status) for call in self.calls()]

    def _call_item(self, call: dict, status: str) -> dict:
        """A call as the client's item (a `function_call`, or a custom tool's `custom_tool_call`)."""
        return tool_call_item(call, self.tools.offered.get(call["function"]["name"]), status)

    def _save(self) -> None:
        """Store the transcript and this answer for `previous_response_id`, unless `store` is false. Best effort:
        the answer exists, so a store that fails or a response past the bounds only makes it unstored."""
        if self.store is None or not self.stored:
            return
        turn: dict = {"role": "assistant", "content": self.text or (None if self.tool_calls else "")}
        if self.tool_calls:
            turn["tool_calls"] = self.calls()
        reason = ""
        try:
            if not self.store.put(self.caller, self.call.id, {"messages": self.transcript + [turn]}):
                reason = "too_large"
                log.warning("request %s: the response is larger than FREESEEK_RESPONSE_STORE_CALLER_MAX_BYTES or "
                            "_MAX_BYTES allow, so it is not stored", self.call.id)
        except GatewayError as error:
            reason = "store_unavailable"
            log.warning("request %s: the response could not be stored (%s); it is answered as not stored",
                        self.call.id, error.message)
        except Exception:  # a bug of ours must not fail an answer that exists
            reason = "error"
            log.exception("request %s: storing the response failed; it is answered as not stored", self.call.id)
        if reason:
            self.stored = False
            self._not_stored(reason)

    # ---- stream ------------------------------------------------------------------------------------------

    def _event(self, event_type: str, **fields) -> bytes:
        """One Responses event, numbered in the order it is sent."""
        data = {"type": event_type, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return data_event(data, event_type)

    def _start(self) -> bytes:
        """`response.created` and `response.in_progress`, once."""
        if self._started:
            return b""
        self._started = True
        return (self._event("response.created", response=self.response("in_progress", [])) +
                self._event("response.in_progress", response=self.response("in_progress", [])))

    def keepalive(self) -> bytes:
        """An SSE comment (the Responses grammar has no keep-alive event; every client skips comments)."""
        return self._start() + super().keepalive()

    def stream_event(self, event) -> bytes:
        """Record one event and return the Responses events it produces."""
        self.record(event)
        # The preamble goes first, so its sequence numbers come first.
        out = self._start() if isinstance(event, (Text, ToolCallDelta)) else b""
        if isinstance(event, Text) and event.reasoning:
            out += self._delta("reasoning", event.reasoning)
        if isinstance(event, Text) and event.content:
            out += self._delta("message", event.content)
        if isinstance(event, ToolCallDelta):
            out += self._call_piece(event)
        return out

    def stream_end(self, usage: Usage) -> bytes:
        """Close the open item, then `response.completed` (or `response.incomplete`) with the whole response."""
        out = self._start() + self._flush()
        status = self.status()
        self._save()
        return out + self._event(f"response.{status}", response=self.response(status, self._items, usage))

    def stream_error(self, error: GatewayError) -> bytes:
        """An `error` event, then `response.failed` (a bare one if the full response cannot be built)."""
        try:
            return (self._start() + self._event("error", code=error.code, message=error.message,
                                                 param=error.param) +
                    self._event("response.failed", response=self.response("failed", self._settled(), error=error)))
        except Exception:  # a bug of ours must not leave the client a stream without its terminal event
            log.exception("request %s: the failed response could not be built", self.call.id)
            failed = {"id": self.call.id, "object": "response", "created_at": self.created_at, "status": "failed",
                      "output": [], "error": {"code": error.code or "server_error", "message": error.message}}
            return (self._event("error", code=error.code, message=error.message, param=error.param) +
                    self._event("response.failed", response=failed))

    def _settled(self) -> list[dict]:
        """The output so far in its final form, for a response that failed: the open item and waiting calls too."""
        items = []
        for item in self._items:
            if item["type"] == "reasoning" and "_text" in item:
                item = reasoning_item(item["id"], item["_text"])
            elif item["type"] == "message" and "_text" in item:
                item = message_item(item["id"], item["_text"], "incomplete")
            elif item["type"] == "function_call" and item["status"] == "in_progress":
                item = {**item, "status": "incomplete"}
            elif item["type"] == "custom_tool_call" and "_arguments" in item:
                item = {k: v for k, v in item.items() if k != "_arguments"}
            items.append(item)
        return items + [self._call_item(self.tool_calls[i], "incomplete") for i in self.waiting_calls]

    def _delta(self, kind: str, text: str) -> bytes:
        """Send text to the open reasoning or message item, opening one when the kind changes."""
        out = b""
        if self._open is None or self._items[self._open]["type"] != kind:
            out += self._flush()
            self._open = len(self._items)
            if kind == "reasoning":
                item = {"type": "reasoning", "id": new_id("rs_"), "summary": []}
                out += self._event("response.output_item.added", output_index=self._open, item=item)
                out += self._event("response.reasoning_summary_part.added", item_id=item["id"],
                                   output_index=self._open, summary_index=0, part={"type": "summary_text", "text": ""})
                item = {**item, "_text": ""}
            else:
                item = message_item(new_id("msg_"), None, "in_progress")
                out += self._event("response.output_item.added", output_index=self._open, item=dict(item))
                out += self._event("response.content_part.added", item_id=item["id"], output_index=self._open,
                                   content_index=0, part={"type": "output_text", "text": "", "annotations": []})
                item["_text"] = ""
            self._items.append(item)
        item = self._items[self._open]
        item["_text"] += text
        if kind == "reasoning":
            return out + self._event("response.reasoning_summary_text.delta", item_id=item["id"],
                                     output_index=self._open, summary_index=0, delta=text)
        return out + self._event("response.output_text.delta", item_id=item["id"], output_index=self._open,
                                 content_index=0, delta=text, logprobs=[])

    def _call_piece(self, event: ToolCallDelta) -> bytes:
        """Stream a piece of a call into its open item, or hold it while another call's item is open."""
        return b"".join(self.ordered_call_piece(event, self._call_items, self._open_call,
                                                lambda index: [self._open_item_of(index)],
                                                lambda arguments: [self._arguments_delta(arguments)]))

    def _open_call(self) -> int | None:
        """The call whose item is open, if one is."""
        return next((i for i, item in self._call_items.items() if item == self._open), None)

    def _open_item_of(self, index: int) -> bytes:
        """Open a call's `function_call` item with the arguments it has so far."""
        out = self._close()
        self._open = self._call_items[index] = len(self._items)
        item = self._call_item(self.tool_calls[index], "in_progress")
        if item["type"] == "custom_tool_call":   # its input goes out whole when it is complete
            item["input"], item["_arguments"] = "", ""
        else:
            item["arguments"] = ""
        self._items.append(item)
        out += self._event("response.output_item.added", output_index=self._open,
                           item={k: v for k, v in item.items() if k != "_arguments"})
        arguments = self.tool_calls[index]["function"]["arguments"]
        return out + (self._arguments_delta(arguments) if arguments else b"")

    def _arguments_delta(self, text: str) -> bytes:
        """A piece of the open call's arguments."""
        item = self._items[self._open]
        if item["type"] == "custom_tool_call":
            item["_arguments"] += text
            return b""
        item["arguments"] += text
        return self._event("response.function_call_arguments.delta", item_id=item["id"], output_index=self._open,
                           delta=text)

    def _flush(self) -> bytes:
        """Close the open item, then send each waiting call as a whole item, in order."""
        out = self._close()
        while self.waiting_calls:
            out += self._open_item_of(self.waiting_calls.pop(0)) + self._close()
        return out

    def _close(self) -> bytes:
        """Finish the open item: its `.done` events, and the item in its final form."""
        if self._open is None:
            return b""
        index, item = self._open, self._items[self._open]
        self._open = None
        if item["type"] == "reasoning":
            text = item["_text"]
            part = {"type": "summary_text", "text": text}
            self._items[index] = reasoning_item(item["id"], text)
            return (self._event("response.reasoning_summary_text.done", item_id=item["id"], output_index=index,
                                summary_index=0, text=text) +
                    self._event("response.reasoning_summary_part.done", item_id=item["id"], output_index=index,
                                summary_index=0, part=part) +
                    self._event("response.output_item.done", output_index=index, item=self._items[index]))
        if item["type"] == "message":
            text = item["_text"]
            self._items[index] = final = message_item(item["id"], text, "completed")
            return (self._event("response.output_text.done", item_id=item["id"], output_index=index,
                                content_index=0, text=text, logprobs=[]) +
                    self._event("response.content_part.done", item_id=item["id"], output_index=index,
                                content_index=0, part=final["content"][0]) +
                    self._event("response.output_item.done", output_index=index, item=final))
        if item["type"] == "custom_tool_call":
            text = custom_input(item.pop("_arguments"))
            item["input"] = text
            return (self._event("response.custom_tool_call_input.delta", item_id=item["id"], output_index=index,
                                delta=text) +
                    self._event("response.custom_tool_call_input.done", item_id=item["id"], output_index=index,
                                input=text) +
                    self._event("response.output_item.done", output_index=index, item=item))
        item["status"] = "completed"
        return (self._event("response.function_call_arguments.done", item_id=item["id"], output_index=index,
                            name=item["name"], arguments=item["arguments"]) +
                self._event("response.output_item.done", output_index=index, item=item))


class OpenAIResponses:
    """The dialect's entry: a Responses body (and the response it continues) to the internal call and renderer."""

    def __init__(self, store: StoredResponses, caller_key: Callable[[str], str] = lambda digest: digest,
                 not_stored: Callable[[str], None] = lambda reason: None):
        self.store, self.caller_key, self.not_stored = store, caller_key, not_stored

    def prepare(self, body: dict, credential_digest: str) -> tuple[ChatCall, ResponsesRenderer]:
        """Read a validated Responses body as the internal call, with the renderer that answers it."""
        caller = self.caller_key(credential_digest)   # a keyed hash: what a caller stored is found by it alone
        history: list[dict] = []
        previous = body.get("previous_response_id")
        if previous:
            stored = self.store.get(caller, previous)
            if stored is None:
                raise NotFound(f"Previous response with id '{previous}' not found: it was not stored, another "
                               "credential made it, or it expired (FREESEEK_RESPONSE_STORE_SECONDS) or was "
                               "evicted (FREESEEK_RESPONSE_STORE_MAX and related bounds).",
                               param="previous_response_id", code="previous_response_not_found")
            history = copy.deepcopy(stored["messages"])
        call, transcript = to_call(body, history)
        return call, ResponsesRenderer(call, body, transcript, self.store, caller, self.not_stored)

"""The OpenAI Responses output items and usage object, as the whole response and its stream both carry them."""

from __future__ import annotations

import json
import uuid

from services.events import Usage


def new_id(prefix: str) -> str:
    """A new item id with its kind's prefix."""
    return prefix + uuid.uuid4().hex


def reasoning_item(item_id: str, text: str) -> dict:
    """A `reasoning` item with its summary."""
    return {"type": "reasoning", "id": item_id, "summary": [{"type": "summary_text", "text": text}]}


def message_item(item_id: str, text: str | None, status: str) -> dict:
    """An assistant `message` item (no content yet when text is None)."""
    content = [] if text is None else [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]
    return {"type": "message", "id": item_id, "status": status, "role": "assistant", "content": content}


def call_item(item_id: str, call: dict, status: str) -> dict:
    """A `function_call` item of one call."""
    return {"type": "function_call", "id": item_id, "call_id": call["id"], "name": call["function"]["name"],
            "arguments": call["function"]["arguments"], "status": status}


def tool_call_item(call: dict, tool, status: str) -> dict:
    """A call as the client's item: `function_call` (with its namespace) or a custom tool's `custom_tool_call`;
    `tool` is the OfferedTool its model-facing name stands for, if the request offered one."""
    if tool is not None and tool.custom:
        item = {"type": "custom_tool_call", "id": new_id("ctc_"), "call_id": call["id"], "name": tool.name,
                "input": custom_input(call["function"]["arguments"])}
    else:
        item = call_item(new_id("fc_"), call, status)
        item["name"] = tool.name if tool is not None else item["name"]
    if tool is not None and tool.namespace:
        item["namespace"] = tool.namespace
    return item


def custom_input(arguments: str) -> str:
    """A custom tool call's input: the one string its function form carries."""
    try:
        value = json.loads(arguments)
    except ValueError:
        return arguments
    return value.get("input", "") if isinstance(value, dict) and isinstance(value.get("input"), str) else arguments


def usage_of(usage: Usage) -> dict:
    """The Responses usage object."""
    return {"input_tokens": usage.prompt_tokens, "input_tokens_details": {"cached_tokens": usage.cached_tokens or 0},
            "output_tokens": usage.completion_tokens,
            "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens or 0},
            "total_tokens": usage.prompt_tokens + usage.completion_tokens}

"""The OpenAI Responses output items and usage object, as the whole response and its stream both carry them."""

from __future__ import annotations

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


def usage_of(usage: Usage) -> dict:
    """The Responses usage object."""
    return {"input_tokens": usage.prompt_tokens, "input_tokens_details": {"cached_tokens": usage.cached_tokens or 0},
            "output_tokens": usage.completion_tokens,
            "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens or 0},
            "total_tokens": usage.prompt_tokens + usage.completion_tokens}

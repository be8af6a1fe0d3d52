"""Anthropic Messages requests read as the internal call: OpenAI-shaped messages, tools and options."""

from __future__ import annotations

import json
import uuid

from services.chat_call import ChatCall
from services.errors import BadRequest
from services.media_types import is_media_type
from services.models import parse_model
from services.prompt import flatten
from services.tools.history import orphan_result

# What a client's Claude model name becomes when FREESEEK_CLAUDE_MODEL_MAP does not say: every Claude model
# is served by DeepSeek's chat model (the one that calls tools best and fastest on every provider);
# requested thinking then selects its reasoning variant.
DEFAULT_CLAUDE_MAP = "opus=deepseek-chat,sonnet=deepseek-chat,haiku=deepseek-chat,claude=deepseek-chat"
# DeepSeek's API caps output at 8K tokens for the chat model and 64K for the reasoner; clients such as Claude
# Code ask for up to 32000, which must not become an upstream 400.
MAX_OUTPUT = {False: 8192, True: 65536}
BILLING_HEADER = "x-anthropic-billing-header:"
_PASSED_OPTIONS = ("temperature", "top_p")


def parse_model_map(text: str) -> list[tuple[str, str]]:
    """Read `substring=model,...` pairs (first match wins), as FREESEEK_CLAUDE_MODEL_MAP spells them."""
    pairs = []
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if sep and key.strip() and value.strip():
            pairs.append((key.strip().lower(), value.strip()))
    return pairs


def our_model(name: str, model_map: list[tuple[str, str]], thinking: bool) -> str:
    """Map a Claude model name to ours (our own names pass as they are); thinking asks for reasoning."""
    lowered = name.lower()
    mapped = next((ours for key, ours in model_map if key in lowered), name)
    model = parse_model(mapped)
    if thinking and model.alias and not model.reasoning:   # a provider's own model id is sent as it is
        mapped = "deepseek-reasoner" if mapped == "deepseek-chat" else mapped + "-think"
    return mapped


def tool_call_id(anthropic_id: str) -> str:
    """The internal call id of a `toolu_...` id (the renderer made `toolu_X` from `call_X`)."""
    return "call_" + anthropic_id[len("toolu_"):] if anthropic_id.startswith("toolu_") else anthropic_id


def tool_use_id(call_id: str | None) -> str:
    """The `toolu_...` id a client sees for an internal call id."""
    call_id = call_id or "call_" + uuid.uuid4().hex[:24]
    return "toolu_" + call_id[len("call_"):] if call_id.startswith("call_") else call_id


def to_call(body: dict, model_map: list[tuple[str, str]]) -> ChatCall:
    """Build the internal call of a validated Messages body (raises BadRequest on a shape it cannot read)."""
    thinking = (body.get("thinking") or {}).get("type") in ("enabled", "adaptive")
    model = our_model(body["model"], model_map, thinking)
    messages = _system(body.get("system"))
    for i, message in enumerate(body["messages"]):
        messages += _message(message, f"messages[{i}]")
    orphan = orphan_result(messages)
    if orphan is not None:
        raise BadRequest(f"Invalid 'messages': unexpected `tool_use_id` found in `tool_result` blocks: "
                         f"{tool_use_id(orphan)}. Each `tool_result` block must have a corresponding `tool_use` "
                         "block in an earlier message.", param="messages")
    if not any(m["role"] != "system" for m in messages):
        raise BadRequest("Invalid 'messages': at least one user or assistant message is required.", param="messages")
    chat: dict = {"model": model, "messages": messages, "stream": bool(body.get("stream")),
                  "max_tokens": min(body["max_tokens"], MAX_OUTPUT["reasoner" in model or "think" in model])}
    chat.update({k: body[k] for k in _PASSED_OPTIONS if body.get(k) is not None})
    if body.get("stop_sequences"):
        chat["stop"] = body["stop_sequences"]
    tools = [_tool(t, f"tools[{i}]") for i, t in enumerate(body.get("tools") or [])]
    tools = [t for t in tools if t is not None]
    if tools:
        chat["tools"] = tools
        chat.update(_tool_choice(body.get("tool_choice")))
    if any(str(t.get("type") or "").startswith("web_search") for t in body.get("tools") or []):
        chat["web_search_options"] = {}   # Anthropic's server web search: the web chat's own search
    call = ChatCall.from_body(chat)
    call.id = "msg_" + uuid.uuid4().hex[:24]
    return call


def _system(system) -> list[dict]:
    """The system prompt as a system message, without Claude Code's client metadata block."""
    if system is None:
        return []
    if isinstance(system, str):
        return [{"role": "system", "content": system}] if system else []
    if not isinstance(system, list):
        raise BadRequest("Invalid 'system': must be a string or an array of text blocks.", param="system")
    texts = []
    for i, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text" or not isinstance(block.get("text"), str):
            raise BadRequest(f"Invalid 'system[{i}]': expected a text block.", param=f"system[{i}]")
        if not block["text"].startswith(BILLING_HEADER):
            texts.append(block["text"])
    return [{"role": "system", "content": "\n\n".join(texts)}] if texts else []


def _message(message: dict, where: str) -> list[dict]:
    """One Anthropic message as one or more OpenAI messages (each tool result becomes a `tool` message)."""
    role, content = message["role"], message.get("content")
    if isinstance(content, str):
        return [{"role": role, "content": content}]
    if not isinstance(content, list):
        raise BadRequest(f"Invalid '{where}.content': must be a string or an array of blocks.", param=where)
    if role == "system":
        return _system(content)
    if role == "assistant":
        return [_assistant(content, where)]
    results, media, parts = [], [], []
    for j, block in enumerate(content):
        kind = _kind(block, f"{where}.content[{j}]")
        if kind == "tool_result":
            result, attached = _tool_result(block, f"{where}.content[{j}]")
            results.append(result)
            media += attached
        elif kind in ("text", "image", "document"):
            parts.append(_part(block, f"{where}.content[{j}]"))
        # thinking and other echoed blocks in a user turn carry nothing for the model
    # A `tool` message holds text only; the images and documents a tool returned go up in the user turn
    # right after the results, where every provider reads (and the web chat uploads) them.
    parts = media + parts
    return results + ([{"role": "user", "content": parts}] if parts else [])


def _assistant(content: list, where: str) -> dict:
    """An assistant turn: its text and its tool calls (echoed thinking is not sent back upstream)."""
    texts, calls = [], []
    for j, block in enumerate(content):
        kind = _kind(block, f"{where}.content[{j}]")
        if kind == "text":
            texts.append(_text(block, f"{where}.content[{j}]"))
        elif kind == "tool_use":
            if not isinstance(block.get("id"), str) or not isinstance(block.get("name"), str):
                raise BadRequest(f"Invalid '{where}.content[{j}]': a tool_use block needs 'id' and 'name'.",
                                 param=f"{where}.content[{j}]")
            arguments = block.get("input") if block.get("input") is not None else {}
            calls.append({"id": tool_call_id(block["id"]), "type": "function",
                          "function": {"name": block["name"], "arguments": json.dumps(arguments, ensure_ascii=False)}})
    message: dict = {"role": "assistant", "content": "".join(texts) or (None if calls else "")}
    if calls:
        message["tool_calls"] = calls
    return message


def _tool_result(block: dict, where: str) -> tuple[dict, list[dict]]:
    """A tool result as the `tool` message that answers its call, and the image and document parts it holds."""
    if not isinstance(block.get("tool_use_id"), str):
        raise BadRequest(f"Invalid '{where}': a tool_result block needs 'tool_use_id'.", param=where)
    content, media = block.get("content"), []
    if isinstance(content, list):
        texts = []
        for k, item in enumerate(content):
            kind = _kind(item, f"{where}.content[{k}]")
            if kind == "text":
                texts.append(_text(item, f"{where}.content[{k}]"))
            elif kind in ("image", "document"):
                media.append(_part(item, f"{where}.content[{k}]"))
                texts.append(f"[{kind} {len(media)}: attached in the next user message]")
            else:
                texts.append(f"[{kind}]")
        content = "\n".join(texts)
    elif content is None:
        content = ""
    elif not isinstance(content, str):
        raise BadRequest(f"Invalid '{where}.content': must be a string or an array of blocks.", param=where)
    if block.get("is_error"):
        content = "Error: " + content
    return {"role": "tool", "tool_call_id": tool_call_id(block["tool_use_id"]), "content": content}, media


def _part(block: dict, where: str) -> dict:
    """A text, image or document block as the OpenAI content part the providers understand."""
    if block["type"] == "text":
        return {"type": "text", "text": _text(block, where)}
    source = block.get("source")
    if not isinstance(source, dict):
        raise BadRequest(f"Invalid '{where}.source': expected an object.", param=where)
    kind = source.get("type")
    if kind == "text" and isinstance(source.get("data"), str):
        return {"type": "text", "text": source["data"]}
    if kind == "base64" and isinstance(source.get("data"), str):
        media_type = source.get("media_type") or "application/octet-stream"
        if not is_media_type(media_type):  # it becomes an upload's Content-Type on the web chat
            raise BadRequest(f"Invalid '{where}.source.media_type': not a media type such as image/png.",
                             param=f"{where}.source.media_type")
        url = f"data:{media_type};base64,{source['data']}"
    elif kind == "url" and isinstance(source.get("url"), str):
        url = source["url"]
    else:
        raise BadRequest(f"Invalid '{where}.source': use a base64, url or text source.", param=where)
    if block["type"] == "image":
        return {"type": "image_url", "image_url": {"url": url}}
    name = block.get("title") if isinstance(block.get("title"), str) else "document.pdf"
    return {"type": "file", "file": {"file_data" if kind == "base64" else "file_url": url, "filename": name}}


def _tool(tool: dict, where: str) -> dict | None:
    """A client tool in OpenAI's function form; Anthropic's server tools (typed) are not ours to run."""
    if not isinstance(tool, dict) or not isinstance(tool.get("name"), str) or not tool["name"]:
        raise BadRequest(f"Invalid '{where}': a tool needs a 'name'.", param=where)
    if tool.get("type") is not None and not isinstance(tool["type"], str):
        raise BadRequest(f"Invalid '{where}.type': must be a string.", param=where)
    if tool.get("type") not in (None, "custom"):
        return None
    schema = tool.get("input_schema")
    if schema is not None and not isinstance(schema, dict):
        raise BadRequest(f"Invalid '{where}.input_schema': must be a JSON Schema object.", param=where)
    return {"type": "function", "function": {"name": tool["name"], "description": tool.get("description") or "",
                                             "parameters": schema or {"type": "object", "properties": {}}}}


def _tool_choice(choice) -> dict:
    """`tool_choice` and `disable_parallel_tool_use` in OpenAI's terms."""
    if choice is None:
        return {}
    if not isinstance(choice, dict):
        raise BadRequest("Invalid 'tool_choice': expected an object with a 'type'.", param="tool_choice")
    kind = choice.get("type")
    out: dict = {}
    if kind == "auto":
        out["tool_choice"] = "auto"
    elif kind == "any":
        out["tool_choice"] = "required"
    elif kind == "none":
        out["tool_choice"] = "none"
    elif kind == "tool" and isinstance(choice.get("name"), str):
        out["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
    else:
        raise BadRequest("Invalid 'tool_choice': type must be auto, any, tool (with a name) or none.",
                         param="tool_choice")
    if choice.get("disable_parallel_tool_use"):
        out["parallel_tool_calls"] = False
    return out


def _kind(block, where: str) -> str:
    """A content block's type (a block that is not an object with one is a bad request)."""
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        raise BadRequest(f"Invalid '{where}': a content block must be an object with a 'type'.", param=where)
    return block["type"]


def _text(block: dict, where: str) -> str:
    """A text block's text."""
    if not isinstance(block.get("text"), str):
        raise BadRequest(f"Invalid '{where}': a text block needs a string 'text'.", param=where)
    return block["text"]


def flat_text(call: ChatCall) -> str:
    """The request as the model reads it, tools included, for count_tokens."""
    tools = call.body.get("tools")
    return flatten(call.messages) + (json.dumps(tools, ensure_ascii=False) if tools else "")

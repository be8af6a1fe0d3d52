"""OpenAI Responses requests read as the internal call: `input` items become OpenAI chat messages."""

from __future__ import annotations

import json
import uuid

from services.chat_call import ChatCall
from services.dialects.responses_tools import ResponsesTools, read_tools
from services.errors import BadRequest
from services.tools.history import orphan_result

_TEXT_PARTS = ("input_text", "output_text", "text", "summary_text")


def input_messages(body: dict, tools: ResponsesTools | None = None) -> list[dict]:
    """The request's `input` as OpenAI messages (assistant `tool_calls`, `tool` results, content parts)."""
    tools = tools or read_tools(body.get("tools") or [])
    value = body.get("input")
    if value is None:
        return []
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    messages: list[dict] = []
    for i, item in enumerate(value):
        where = f"input[{i}]"
        kind = item.get("type") or ("message" if "role" in item else None)
        if kind == "message":
            messages.append(_message(item, where))
        elif kind in ("function_call", "custom_tool_call"):
            _add_call(messages, item, where, tools)
        elif kind in ("function_call_output", "custom_tool_call_output"):
            if not isinstance(item.get("call_id"), str):
                raise BadRequest(f"Invalid '{where}': a {kind} needs a 'call_id'.", param=where)
            messages.append({"role": "tool", "tool_call_id": item["call_id"], "content": _text(item.get("output"),
                                                                                              where)})
        elif not isinstance(kind, str):
            raise BadRequest(f"Invalid '{where}': an input item needs a 'type' or a 'role'.", param=where)
        # reasoning items and references that clients echo back carry nothing the model needs again
    return messages


def to_call(body: dict, history: list[dict]) -> tuple[ChatCall, list[dict]]:
    """Build the internal call and the transcript to store (the call without its `instructions`)."""
    tools = read_tools(body.get("tools") or [])
    transcript = history + input_messages(body, tools)
    orphan = orphan_result(transcript)
    if orphan is not None:
        raise BadRequest(f"No tool call found for function call output with call_id {orphan}.", param="input")
    if not any(m["role"] in ("user", "tool") for m in transcript):
        raise BadRequest("Invalid 'input': it holds no user message.", param="input")
    instructions = body.get("instructions")
    messages = ([{"role": "system", "content": instructions}] if instructions else []) + transcript
    chat: dict = {"model": body["model"], "messages": messages, "stream": bool(body.get("stream"))}
    for ours, theirs in (("max_tokens", "max_output_tokens"), ("temperature", "temperature"), ("top_p", "top_p"),
                         ("parallel_tool_calls", "parallel_tool_calls")):
        if body.get(theirs) is not None:
            chat[ours] = body[theirs]
    if tools.functions:
        chat["tools"] = tools.functions
        choice = _tool_choice(body.get("tool_choice"), tools)
        if choice is not None:
            chat["tool_choice"] = choice
    if tools.web_search:
        chat["web_search_options"] = {}   # the web chat searches; an API provider is told nothing of it
    if ((body.get("text") or {}).get("format") or {}).get("type") == "json_object":
        chat["response_format"] = {"type": "json_object"}
    call = ChatCall.from_body(chat)
    call.id = "resp_" + uuid.uuid4().hex
    return call, transcript


def _tool_choice(choice, tools: ResponsesTools):
    """A Responses `tool_choice` in chat's terms (None for a built-in tool's)."""
    if choice is None or choice in ("auto", "none", "required"):
        return choice
    if not isinstance(choice, dict) or not isinstance(choice.get("type"), str):
        raise BadRequest("Invalid 'tool_choice': use \"auto\", \"none\", \"required\" or an object with a "
                         "'type'.", param="tool_choice")
    if choice["type"] in ("function", "custom"):
        if not isinstance(choice.get("name"), str) or not choice["name"]:
            raise BadRequest(f"Invalid 'tool_choice': a {choice['type']} choice needs a 'name'.", param="tool_choice")
        return {"type": "function", "function": {"name": tools.model_name(choice["name"], choice.get("namespace"))}}
    return None   # a choice of a built-in tool: ours are only functions


def _message(item: dict, where: str) -> dict:
    """A message item as an OpenAI chat message (developer and system turns are system messages)."""
    role = item.get("role")
    if role not in ("user", "assistant", "system", "developer"):
        raise BadRequest(f"Invalid '{where}.role': must be user, assistant, system or developer.", param=where)
    content = item.get("content")
    if role in ("system", "developer"):
        return {"role": "system", "content": _text(content, where)}
    if role == "assistant":
        return {"role": "assistant", "content": _text(content, where)}
    if isinstance(content, str):
        return {"role": "user", "content": content}
    if not isinstance(content, list):
        raise BadRequest(f"Invalid '{where}.content': must be a string or an array of parts.", param=where)
    return {"role": "user", "content": [_part(p, f"{where}.content[{j}]") for j, p in enumerate(content)]}


def _part(part, where: str) -> dict:
    """A user content part as the OpenAI part the providers understand (images and files uploaded on the web)."""
    kind = part.get("type") if isinstance(part, dict) else None
    if kind in _TEXT_PARTS and isinstance(part.get("text"), str):
        return {"type": "text", "text": part["text"]}
    if kind == "input_image" and isinstance(part.get("image_url"), str):
        return {"type": "image_url", "image_url": {"url": part["image_url"]}}
    if kind == "input_file" and isinstance(part.get("file_data") or part.get("file_url"), str):
        key = "file_data" if part.get("file_data") else "file_url"
        return {"type": "file", "file": {key: part[key], "filename": part.get("filename") or "file"}}
    if kind in ("input_image", "input_file") and part.get("file_id"):
        raise BadRequest(f"Invalid '{where}': file ids cannot be used here; send the data inline.", param=where)
    raise BadRequest(f"Invalid '{where}': expected an input_text, input_image (image_url) or input_file part.",
                     param=where)


def _add_call(messages: list[dict], item: dict, where: str, tools: ResponsesTools) -> None:
    """A call joins the assistant turn it ends (consecutive calls are one turn of parallel calls); a custom
    tool's call is the function call of its one `input` parameter, under the name the model knows."""
    if not isinstance(item.get("call_id"), str) or not isinstance(item.get("name"), str):
        raise BadRequest(f"Invalid '{where}': a {item['type']} needs 'call_id' and 'name'.", param=where)
    if item["type"] == "custom_tool_call":
        arguments = json.dumps({"input": item.get("input") if isinstance(item.get("input"), str) else ""},
                               ensure_ascii=False)
    else:
        arguments = item.get("arguments")
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments if arguments is not None else {}, ensure_ascii=False)
    name = tools.model_name(item["name"], item.get("namespace"))
    call = {"id": item["call_id"], "type": "function", "function": {"name": name, "arguments": arguments}}
    last = messages[-1] if messages else None
    if last is not None and last["role"] == "assistant":
        last.setdefault("tool_calls", []).append(call)
        last["content"] = last["content"] or None
    else:
        messages.append({"role": "assistant", "content": None, "tool_calls": [call]})


def _text(content, where: str) -> str:
    """Text of a string, or of an array of text parts (other parts are named, not sent)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise BadRequest(f"Invalid '{where}': content must be a string or an array of parts.", param=where)
    texts = []
    for part in content:
        if isinstance(part, dict) and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif isinstance(part, dict) and part.get("type"):
            texts.append(f"[{part['type']}]")
    return "".join(texts)

"""Tool history going up to a provider without tools: calls and results rendered into plain messages."""

from __future__ import annotations

import json
from typing import Callable

from services.prompt import message_text
from services.tools.markup import render_calls


def plain_messages(messages: list[dict], recall: Callable[[list[str]], str | None]) -> list[dict]:
    """The conversation with tool calls written as markup and tool results as <tool_result> blocks."""
    # An assistant turn whose calls the gateway parsed itself gets back the exact text the model wrote
    # (`recall` by call ids), so that its fingerprint matches the answer the web chat remembered. Results
    # and the user text after them become one user turn: a continuation sends just that turn.
    out: list[dict] = []
    names: dict = {}
    made = set()   # ids of the user turns this function assembled (they may take more results)
    for message in messages:
        role = message.get("role")
        if role == "assistant" and message.get("tool_calls"):
            calls = [c for c in message["tool_calls"] if isinstance(c, dict)]
            functions = [c.get("function") if isinstance(c.get("function"), dict) else {} for c in calls]
            names.update({c.get("id"): f.get("name") for c, f in zip(calls, functions)})
            content = recall([c.get("id") for c in calls])
            if content is None:
                text = message_text(message.get("content")).strip()
                markup = render_calls([(str(f.get("name") or ""), _arguments(f.get("arguments"))) for f in functions])
                content = f"{text}\n\n{markup}" if text else markup
            out.append({**{k: v for k, v in message.items() if k != "tool_calls"}, "content": content})
        elif role == "tool":
            call_id = message.get("tool_call_id") or ""
            name = names.get(call_id) or message.get("name") or ""
            result = (f'<tool_result name="{name}" id="{call_id}">\n{message_text(message.get("content"))}\n'
                      "</tool_result>")
            _add_to_user_turn(out, made, result)
        elif role == "user" and out and id(out[-1]) in made:
            _add_to_user_turn(out, made, message.get("content"))
        else:
            out.append(message)
    return out


def orphan_result(messages: list[dict]) -> str | None:
    """The call id of the first tool result that no earlier assistant turn called, if any."""
    called: set = set()
    for message in messages:
        if message.get("role") == "assistant":
            called.update(c.get("id") for c in message.get("tool_calls") or [] if isinstance(c, dict))
        elif message.get("role") == "tool" and message.get("tool_call_id") not in called:
            return message.get("tool_call_id")
    return None


def with_block(messages: list[dict], block: str, at_start: bool) -> list[dict]:
    """Put the tool block first in the prompt (a new session) or in the last user turn (a continued one)."""
    if at_start:
        return [{"role": "system", "content": block}] + messages
    last = messages[-1]
    content = last.get("content")
    if isinstance(content, list):
        content = [{"type": "text", "text": block}] + content
    else:
        content = f"{block}\n\n{message_text(content)}"
    return messages[:-1] + [{**last, "content": content}]


def _add_to_user_turn(out: list[dict], made: set, content) -> None:
    """Append text or parts to the user turn being assembled, or start one."""
    if out and id(out[-1]) in made:
        turn = out[-1]
        if isinstance(content, list) or isinstance(turn["content"], list):
            turn["content"] = _parts(turn["content"]) + _parts(content)
        else:
            turn["content"] = f"{turn['content']}\n\n{content or ''}"
        return
    turn = {"role": "user", "content": content if content is not None else ""}
    out.append(turn)
    made.add(id(turn))


def _parts(content) -> list:
    """A message's content as a list of parts."""
    if isinstance(content, list):
        return content
    return [{"type": "text", "text": content or ""}]


def _arguments(arguments) -> str:
    """A call's arguments as JSON text, however the client sent them."""
    if isinstance(arguments, str):
        return arguments
    return json.dumps(arguments if arguments is not None else {}, ensure_ascii=False)

"""Flatten an OpenAI `messages` array into one prompt with DeepSeek's chat-template markers."""

from __future__ import annotations

USER, ASSISTANT, END = "<｜User｜>", "<｜Assistant｜>", "<｜end▁of▁sentence｜>"


def message_text(content) -> str:
    """Return a message's text: a string as is, the text parts of an array joined by newlines."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") in ("text", "input_text")]
    return "\n".join(p for p in parts if isinstance(p, str))


def flatten(messages: list[dict]) -> str:
    """Merge same-role neighbours and mark each block as DeepSeek's template does; the first block is bare."""
    blocks: list[tuple[str, str]] = []
    for message in messages:
        role = "assistant" if message.get("role") == "assistant" else (
            "system" if message.get("role") in ("system", "developer") else "user")
        text = message_text(message.get("content"))
        if blocks and blocks[-1][0] == role:
            blocks[-1] = (role, blocks[-1][1] + "\n\n" + text)
        else:
            blocks.append((role, text))
    prompt = []
    for i, (role, text) in enumerate(blocks):
        if role == "assistant":
            prompt.append(ASSISTANT + text + END)
        else:
            prompt.append(text if i == 0 else USER + text)
    return "".join(prompt)

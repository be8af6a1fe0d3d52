"""SSE framing and shared values of the fake web chat's streams."""

from __future__ import annotations

import json
from typing import Iterator

from tests.fakes.web_account import Account

SEARCH_RESULTS = [{"url": "https://example.org/a", "title": "Page A", "snippet": "a", "cite_index": None},
                  {"url": "https://example.org/b", "title": "Page B", "snippet": "b", "cite_index": None}]
CITED_RESULTS = [{**r, "cite_index": i} for i, r in enumerate(SEARCH_RESULTS, 1)]
GENERATION_ERR = {"type": "error", "content": "Server is temporarily unavailable.", "finish_reason": "generation_err"}
UNSUPPORTED = {"type": "error", "content": "The current client version does not support this model. Please update.",
               "finish_reason": "unsupported_client_by_model"}


def cut() -> Iterator[str]:
    """The cut of an answer: status INCOMPLETE, then the generation_err frame, then close."""
    yield data({"p": "response/status", "o": "SET", "v": "INCOMPLETE"})
    yield data(GENERATION_ERR)
    yield event("close", {"click_behavior": "none", "auto_resume": True})


def appends(account: Account, path: str, pieces: list[str]) -> Iterator[str]:
    """Text appends on one path: the first names path and op, the rest only `v` (or path-less batches of two)."""
    values = [piece if account.value_shape == "str" else {account.value_shape: piece} for piece in pieces]
    if account.batches:
        relative = path.removeprefix("response/")
        for i in range(0, len(values), 2):
            # The second item has no op: a bare text value on a text path appends.
            items = [{"p": relative, "o": "APPEND", "v": values[i]}]
            items += [{"p": relative, "v": v} for v in values[i + 1:i + 2]]
            yield data({"v": items})
        return
    for i, value in enumerate(values):
        yield data({"p": path, "o": "APPEND", "v": value} if i == 0 else {"v": value})


def data(obj) -> str:
    """One data-only SSE event."""
    return "data: " + json.dumps(obj, ensure_ascii=False) + "\n\n"


def event(name: str, obj) -> str:
    """One named SSE event."""
    return f"event: {name}\n" + data(obj)

"""The older stream formats ("patch", "fragments", "legacy"), as accounts on older backends still see them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from tests.fakes.web_account import Account
from tests.fakes.web_sse import SEARCH_RESULTS, appends, cut, data

if TYPE_CHECKING:
    from tests.fakes.web_streams import Turn


def patch_events(account: Account, t: Turn) -> Iterator[str]:
    m = t.message_id
    yield f'event: ready\ndata: {{"request_message_id": {m - 1}, "response_message_id": {m}}}\n\n'
    yield 'event: update_session\ndata: {"updated_at": 1.5}\n\n'
    yield data({"v": {"response": {"message_id": m, "parent_id": m - 1, "thinking_content": None,
                                   "content": "", "search_results": None, "status": "WIP"}}})
    if t.search:
        yield data({"p": "response/search_status", "v": "SEARCHING"})
        yield data({"p": "response/search_results", "v": SEARCH_RESULTS})
        yield data({"p": "response/search_results", "o": "BATCH",
                    "v": [{"p": "0/cite_index", "v": 1}, {"p": "1/cite_index", "v": 2}]})
    if t.thinking:
        yield data({"p": "response/thinking_content", "v": t.thinking[0]})
        for piece in t.thinking[1:]:
            yield data({"v": piece})
        yield data({"p": "response/thinking_elapsed_secs", "o": "SET", "v": 1})
    yield from appends(Account(), "response/content", t.pieces)
    yield from patch_end(account, t)


def patch_end(account: Account, t: Turn) -> Iterator[str]:
    if t.ending == "CUT" or (t.ending == "INCOMPLETE" and t.round > 0):
        yield from cut()
        return
    status = "INCOMPLETE" if t.ending == "INCOMPLETE" else account.end_status
    yield data({"p": "response/status", "o": "SET", "v": status})
    yield 'event: title\ndata: {"content": "A title with FINISHED in it"}\n\n'
    yield 'event: close\ndata: {"click_behavior": "none"}\n\n'


def fragments_events(account: Account, t: Turn) -> Iterator[str]:
    m, pieces = t.message_id, t.pieces
    yield f'event: ready\r\ndata: {{"request_message_id": {m - 1}, "response_message_id": {m}}}\r\n\r\n'
    yield data({"v": {"response": {"message_id": m, "fragments": [], "status": "WIP"}}})
    if t.thinking:
        yield data({"p": "response/fragments", "o": "APPEND", "v": [{"id": 1, "type": "THINK",
                                                                     "content": t.thinking[0]}]})
        for piece in t.thinking[1:]:
            yield data({"p": "response/fragments/-1/content", "v": piece})
        yield data({"p": "response/fragments/-1/elapsed_secs", "o": "SET", "v": 1.5})
        yield data({"p": "response/fragments/-1/status", "v": "FINISHED"})
    if pieces:
        yield data({"p": "response/fragments", "o": "APPEND", "v": [{"id": 2, "type": "RESPONSE",
                                                                     "content": pieces[0]}]})
    if len(pieces) > 1:
        yield data({"p": "response/fragments/-1/content", "o": "APPEND", "v": pieces[1]})
        for piece in pieces[2:]:
            yield data({"v": piece})
    if t.ending == "CUT":
        yield from cut()
        return
    yield data({"p": "response", "o": "BATCH", "v": [{"p": "accumulated_token_usage", "v": 41},
                                                       {"p": "quasi_status", "v": "INCOMPLETE"
                                                        if t.ending == "INCOMPLETE" else "FINISHED"}]})
    yield 'event: close\r\ndata: {"click_behavior": "none"}\r\n\r\n'


def legacy_events(account: Account, t: Turn) -> Iterator[str]:
    base = {"model": "", "message_id": t.message_id, "parent_id": t.message_id - 1}
    if t.search:
        yield data({**base, "choices": [{"index": 0, "delta": {"type": "search_result",
                                                               "search_results": SEARCH_RESULTS}}]})
    for piece in t.thinking:
        yield data({**base, "choices": [{"index": 0, "delta": {"content": piece, "type": "thinking"}}]})
    for piece in t.pieces:
        yield data({**base, "choices": [{"index": 0, "delta": {"content": piece, "type": "text"}}]})
    yield data({**base, "choices": [{"index": 0, "delta": {"content": "", "type": "text"},
                                     "finish_reason": "length" if account.incomplete else "stop"}]})
    yield "data: [DONE]\n\n"

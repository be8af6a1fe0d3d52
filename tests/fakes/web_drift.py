"""A web chat that has changed: the fake's `Account.drift` knob renames events, adds events, fields and codes.

`drift` keys (all optional):
- "rename": {old event name: new name} in answer streams (e.g. {"ready": "ready_v2"});
- "events": raw SSE events (text) sent right after an answer stream's first event;
- "fields": {call path: {field: value}} added to that call's biz_data (e.g. session create's);
- "codes": {call path: (code, biz_code)} answered by that call instead of its reply;
- "content_type": {call path: media type} of that call's reply.
"""

from __future__ import annotations

import json
import re
from typing import Callable, Iterator

from werkzeug.wrappers import Response

from tests.fakes import web_wire as w
from tests.fakes.web_account import Account


def drifted_events(account: Account, events: Iterator[str]) -> Iterator[str]:
    """An answer stream with the account's renamed and added events."""
    rename, extra = account.drift.get("rename", {}), list(account.drift.get("events", []))
    for i, event in enumerate(events):
        for old, new in rename.items():
            event = re.sub(rf"^event: {re.escape(old)}$", f"event: {new}", event, flags=re.MULTILINE)
        yield event
        if i == 0:
            yield from extra


def drifted_reply(account: Account, path: str, handler: Callable[[], Response]) -> Response:
    """The call's reply (or a refusal code instead of it), with the account's added fields and content type."""
    codes = account.drift.get("codes", {})
    if path in codes:
        code, biz_code = codes[path]
        response = w.envelope(code, "a new refusal") if code else w.biz_error(biz_code, "a new business refusal")
    else:
        response = handler()
    fields = account.drift.get("fields", {}).get(path)
    if fields and response.mimetype == "application/json":
        body = json.loads(response.get_data())
        if isinstance((body.get("data") or {}).get("biz_data"), dict):
            body["data"]["biz_data"].update(fields)
            response.set_data(json.dumps(body))
    kind = account.drift.get("content_type", {}).get(path)
    if kind:
        response.headers["Content-Type"] = kind
    return response

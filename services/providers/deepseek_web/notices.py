"""The error notices of the web chat's stream (toasts, hints, error frames) as one exception with a kind."""

from __future__ import annotations

from services.providers.deepseek_web import protocol as p


class WebStreamError(Exception):
    """The stream reported an error; `kind` says which (e.g. "rate_limit", "unsupported_client", "toast")."""

    def __init__(self, message: str, kind: str = "error"):
        super().__init__(message)
        self.kind = kind


def notice(obj, event: str | None) -> WebStreamError:
    """The error a toast, hint or error frame stands for."""
    content = obj.get("content") if isinstance(obj, dict) else None
    reason = obj.get("finish_reason") if isinstance(obj, dict) else None
    if reason == p.UNSUPPORTED_CLIENT or content == p.UNSUPPORTED_CLIENT:
        return WebStreamError(notice_text(obj), "unsupported_client")
    if event == p.EVENT_HINT and content == p.HINT_RATE_LIMIT:
        return WebStreamError("rate_limit", "rate_limit")
    if event == p.EVENT_HINT and content == p.HINT_INPUT_TOO_LONG:
        return WebStreamError("the prompt is longer than the web chat accepts", "input_too_long")
    return WebStreamError(notice_text(obj), "toast")


def notice_text(obj) -> str:
    """The human text of a toast or error object."""
    if isinstance(obj, dict):
        for key in ("content", "msg", "message", "biz_msg"):
            if isinstance(obj.get(key), str) and obj[key]:
                return obj[key][:300]
        if isinstance(obj.get("error"), (dict, str)):
            return notice_text(obj["error"]) if isinstance(obj["error"], dict) else obj["error"][:300]
    return "the web chat reported an error"

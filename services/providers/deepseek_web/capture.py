"""Captures of what the web chat sent back (headers and stream bytes), redacted, written to and read from files.

A capture file is JSON: `{"format": FORMAT, "redacted": bool, "exchanges": [{"call", "status", "headers",
"body"}]}`, one exchange per completion or continue stream, in order. Redaction keeps the protocol's shape
(event names, paths, ops, fragment types, statuses, numbers) and replaces tokens, ids, cookies and every
other string (prompt and answer text, titles, URLs) by placeholders of the same length, so a replay
reconstructs an answer of the same length with the same structure. A browser's HAR file reads the same way.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

from services.providers.deepseek_web import protocol as p

FORMAT = "freeseek-web-capture/1"
STREAM_CALLS = (p.COMPLETION, p.CONTINUE)
MAX_BYTES = 4 * 1024 * 1024  # of one stream kept in memory for a capture; the rest is dropped
# Response headers whose values say nothing about the account or the person; every other value is blanked.
SAFE_HEADERS = {"content-type", "content-encoding", "transfer-encoding", "content-length", "cache-control",
                "x-ds-sse-heartbeat-timeout-secs", p.WAF_HEADER, p.CHALLENGE_HEADER, "vary", "connection",
                "x-content-type-options"}
# Keys whose string values are the protocol's own words, kept as they are.
WORD_KEYS = {"p", "o", "type", "status", "quasi_status", "finish_reason", "model_type", "style",
             "conversation_mode", "search_status", "algorithm", "target_path", "click_behavior", "role",
             "error_code", "code", "biz_code"}
# The last segment of a patch path whose string value is a word too (`{"p": "response/status", "v": "FINISHED"}`).
WORD_PATHS = {"status", "quasi_status", "conversation_mode", "search_status"}
SECRET_KEYS = re.compile(r"(^|_)(token|signature|salt|challenge|cookie|email|mobile|phone)s?$", re.IGNORECASE)
ID_KEYS = re.compile(r"(^|_)ids?$", re.IGNORECASE)
CODE_WORD = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)+")


class Ids:
    """Replaces each id by a stand-in of the same type, the same id always by the same stand-in."""

    def __init__(self) -> None:
        self._seen: dict[object, object] = {}

    def __call__(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            return value
        if value not in self._seen:
            n = len(self._seen) + 1
            self._seen[value] = n if isinstance(value, int) else f"id-{n}"
        return self._seen[value]


def placeholder(text: str) -> str:
    """Text of the same length with every visible character replaced (spacing kept, so it still reads as text)."""
    return re.sub(r"\S", "x", text)


def redact_value(value, keep_text: bool, ids: Ids, key: str = "", path: str = ""):
    """A JSON value with ids, secrets and (unless kept) text replaced; `path` is the patch path it is at."""
    if isinstance(value, dict):
        here = value.get("p") if isinstance(value.get("p"), str) else path
        out = {k: redact_value(v, keep_text, ids, k, here) for k, v in value.items()}
        if value.get("type") == "error" and CODE_WORD.fullmatch(str(value.get("content"))):
            out["content"] = value["content"]  # a hint's code word (rate_limit, input_exceeds_limit), not text
        return out
    if isinstance(value, list):
        return [redact_value(v, keep_text, ids, key, path) for v in value]
    if SECRET_KEYS.search(key):
        return placeholder(value) if isinstance(value, str) else 0
    if ID_KEYS.search(key):
        return ids(value)
    if not isinstance(value, str) or keep_text or key in WORD_KEYS:
        return value
    if key == "v" and path.rsplit("/", 1)[-1] in WORD_PATHS:
        return value
    return placeholder(value)


def redact_stream(text: str, keep_text: bool, ids: Ids) -> str:
    """An SSE body with every data line's JSON redacted (the path of `p`-less patches carried over)."""
    out, path = [], ""
    for line in text.split("\n"):
        if not line.startswith("data:"):
            out.append(line)
            continue
        raw = line[5:].lstrip(" ")
        try:
            obj = json.loads(raw)
        except ValueError:
            out.append(line if keep_text or raw == "[DONE]" else "data: " + placeholder(raw))
            continue
        if isinstance(obj, dict) and isinstance(obj.get("p"), str):
            path = obj["p"]
        out.append("data: " + json.dumps(redact_value(obj, keep_text, ids, path=path), ensure_ascii=False))
    return "\n".join(out)


def redact_headers(headers) -> dict:
    """Response headers with every value but the harmless ones blanked."""
    return {name: value if name.lower() in SAFE_HEADERS else "<redacted>" for name, value in dict(headers).items()}


def redact_exchanges(exchanges: list[dict], keep_text: bool = False) -> list[dict]:
    """Exchanges redacted together (one id keeps one stand-in across them, as a continue needs)."""
    ids = Ids()
    return [{"call": e["call"], "status": e["status"], "headers": redact_headers(e["headers"]),
             "body": redact_stream(e["body"], keep_text, ids)} for e in exchanges]


class Recorder:
    """Keeps the stream exchanges of one answer (or one self-check run) until they are saved."""

    def __init__(self) -> None:
        self.exchanges: list[dict] = []

    def tee(self, call: str, status: int, headers, chunks: Iterator[bytes]) -> Iterator[bytes]:
        """Pass a stream's chunks on, keeping a copy of its bytes (up to MAX_BYTES)."""
        kept: list[bytes] = []
        exchange = {"call": call, "status": status, "headers": dict(headers), "body": kept}
        self.exchanges.append(exchange)
        size = 0
        for chunk in chunks:
            if chunk and size < MAX_BYTES:
                kept.append(chunk[:MAX_BYTES - size])
                size += len(kept[-1])
            yield chunk

    def save(self, folder: str | Path, keep_text: bool = False) -> Path | None:
        """Write the exchanges, redacted unless `keep_text`, to a new file in `folder`; None if there are none."""
        if not self.exchanges:
            return None
        exchanges = [{**e, "body": b"".join(e["body"]).decode("utf-8", "replace")} for e in self.exchanges]
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"web-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}.json"
        write(target, redact_exchanges(exchanges, keep_text), redacted=not keep_text)
        return target


def write(target: Path, exchanges: list[dict], redacted: bool) -> None:
    """Write exchanges, as they are, to a capture file."""
    body = {"format": FORMAT, "redacted": redacted, "exchanges": exchanges}
    target.write_text(json.dumps(body, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def load(path: str | Path, keep_text: bool = False) -> list[dict]:
    """The stream exchanges of a capture file or a browser's HAR 1.2 file (the latter redacted unless kept)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if isinstance(data, dict) and data.get("format") == FORMAT:
        return list(data["exchanges"])
    if isinstance(data, dict) and isinstance(data.get("log"), dict):
        return redact_exchanges(har_exchanges(data), keep_text)
    raise ValueError(f"{path} is neither a capture ({FORMAT}) nor a HAR file")


def har_exchanges(har: dict) -> list[dict]:
    """The completion and continue responses of a HAR log, in the order they started."""
    entries = sorted(har["log"].get("entries") or [], key=lambda e: e.get("startedDateTime") or "")
    out = []
    for entry in entries:
        path = urlsplit(entry.get("request", {}).get("url", "")).path
        if entry.get("request", {}).get("method") != "POST" or path not in STREAM_CALLS:
            continue
        response = entry.get("response") or {}
        content = response.get("content") or {}
        text = content.get("text") or ""
        if content.get("encoding") == "base64":
            text = base64.b64decode(text).decode("utf-8", "replace")
        headers = {h["name"]: h["value"] for h in response.get("headers") or [] if "name" in h}
        out.append({"call": path, "status": response.get("status", 0), "headers": headers, "body": text})
    return out

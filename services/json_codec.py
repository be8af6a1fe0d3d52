"""Compact UTF-8 JSON in and out, through orjson (3-5x faster than the stdlib) with the stdlib as a fallback."""

from __future__ import annotations

import json

import orjson


def dumps(obj) -> bytes:
    """Compact UTF-8 JSON bytes, as `json.dumps(..., ensure_ascii=False, separators=(",", ":"))` writes them."""
    try:
        return orjson.dumps(obj)
    except TypeError:
        pass
    # What orjson refuses and the stdlib writes: integers beyond 64 bits, keys that are not strings, and
    # lone surrogates (a client may send "\ud800"), which only the escaped ASCII form can carry.
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    try:
        return text.encode()
    except UnicodeEncodeError:
        return json.dumps(obj, separators=(",", ":")).encode()


def loads(data: str | bytes):
    """Parse JSON text; raises ValueError when it is not JSON."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        # The stdlib also reads integers beyond 64 bits, NaN and Infinity; invalid UTF-8 is replaced as before.
        return json.loads(data.decode("utf-8", "replace") if isinstance(data, bytes) else data)

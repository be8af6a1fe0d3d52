"""The one SSE reader (bytes in, events out) and the one SSE writer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

from services.json_codec import dumps


@dataclass
class SSEEvent:
    """One server-sent event, or a comment line when `comment` is set."""

    data: str = ""
    event: str | None = None
    comment: bool = False


def read_events(chunks: Iterable[bytes]) -> Iterator[SSEEvent]:
    """Parse SSE from raw byte chunks split anywhere, decoding UTF-8 once per whole line."""
    buffer = b""
    event: str | None = None
    data: list[str] = []
    for chunk in chunks:
        if not chunk:
            # The body reader is about to wait, or woke after a silence: pass that on, so its reader can send
            # what it holds and keep its deadlines.
            yield SSEEvent(comment=True)
            continue
        buffer += chunk
        if b"\n" not in chunk and b"\n" not in buffer:
            continue
        *lines, buffer = buffer.split(b"\n")
        for raw in lines:
            line = raw[:-1] if raw.endswith(b"\r") else raw
            if line.startswith(b"data: "):  # nearly every line: the general case below reads it the same
                data.append(line[6:].decode("utf-8", "replace"))
            elif line:
                parsed = _field(line.decode("utf-8", "replace"))
                if parsed is None:
                    yield SSEEvent(comment=True)
                elif parsed[0] == "data":
                    data.append(parsed[1])
                elif parsed[0] == "event":
                    event = parsed[1]
            elif data or event:
                yield SSEEvent("\n".join(data), event)
                event, data = None, []
            else:
                # A blank line with no pending event: upstreams send these to keep a connection alive.
                yield SSEEvent(comment=True)
    if buffer.strip():
        parsed = _field(buffer.rstrip(b"\r").decode("utf-8", "replace"))
        if parsed and parsed[0] == "data":
            data.append(parsed[1])
    if data:
        # Tolerate an upstream that ends without the final blank line.
        yield SSEEvent("\n".join(data), event)


def _field(line: str) -> tuple[str, str] | None:
    """Split an SSE line into (field, value); None for a comment."""
    if line.startswith(":"):
        return None
    name, _, value = line.partition(":")
    return name, value[1:] if value.startswith(" ") else value


def data_event(obj: dict, event: str | None = None) -> bytes:
    """Encode one `data:` event, with an `event:` line when it is named (the Anthropic and Responses grammars)."""
    data = b"data: " + dumps(obj) + b"\n\n"
    return f"event: {event}\n".encode() + data if event else data


KEEPALIVE_COMMENT = b": keep-alive\n\n"
DONE = b"data: [DONE]\n\n"

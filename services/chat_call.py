"""One chat request as the services layer sees it, after the HTTP edge validated it."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from services.models import ModelRequest, parse_model


@dataclass
class ChatCall:
    """The client's request: its body as sent (forwarded as is) and what the gateway reads from it."""

    body: dict
    model: ModelRequest
    stream: bool
    include_usage: bool
    id: str = field(default_factory=lambda: "chatcmpl-" + uuid.uuid4().hex)
    created: int = field(default_factory=lambda: int(time.time()))

    @classmethod
    def from_body(cls, body: dict) -> "ChatCall":
        """Read the fields the gateway interprets; the rest stays in `body` for the upstream."""
        options = body.get("stream_options") or {}
        return cls(body=body, model=parse_model(body.get("model") or "deepseek-chat"),
                   stream=bool(body.get("stream")), include_usage=bool(options.get("include_usage")))

    @property
    def messages(self) -> list[dict]:
        """The conversation the client sent."""
        return self.body["messages"]

"""One chat request as the services layer sees it, after the HTTP edge validated it."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from services.models import ModelRequest, parse_model
from services.tools.request import ToolRequest, is_legacy, modernise


@dataclass
class ChatCall:
    """The client's request: its body as sent (forwarded as is) and what the gateway reads from it."""

    body: dict
    model: ModelRequest
    stream: bool
    include_usage: bool
    tools: ToolRequest = field(default_factory=ToolRequest)
    legacy_functions: bool = False   # the client speaks `functions`: its reply uses `function_call`
    id: str = field(default_factory=lambda: "chatcmpl-" + uuid.uuid4().hex)
    created: int = field(default_factory=lambda: int(time.time()))
    # What a provider read from the request once (e.g. the web chat's images and files), kept for the length of
    # the request so a failover does not read it again; copies of the call share it.
    extracted: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_body(cls, body: dict) -> "ChatCall":
        """Read the fields the gateway interprets; the rest stays in `body` for the upstream (legacy
        `functions` rewritten as `tools`, which every provider of ours takes)."""
        options = body.get("stream_options") or {}
        legacy = is_legacy(body)
        body = modernise(body)
        return cls(body=body, model=parse_model(body.get("model") or "deepseek-chat"),
                   stream=bool(body.get("stream")), include_usage=bool(options.get("include_usage")),
                   tools=ToolRequest.from_body(body), legacy_functions=legacy)

    @property
    def search(self) -> bool:
        """Whether the answer searches the web: a search model's name, or web search asked as a tool."""
        return self.model.search or isinstance(self.body.get("web_search_options"), dict)

    @property
    def messages(self) -> list[dict]:
        """The conversation the client sent."""
        return self.body["messages"]

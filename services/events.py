"""What a provider's stream is normalised into, whatever the upstream's wire format."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Text:
    """A piece of the answer, of its reasoning, or both."""

    content: str = ""
    reasoning: str = ""


@dataclass
class ToolCallDelta:
    """A piece of one tool call: its first piece carries `id` and `name`, every piece more argument text.

    Whatever the source (a provider's native deltas, or calls parsed from emulation markup), the calls of
    an answer are numbered 0, 1, ... by `index`, and a call's `arguments` pieces concatenate to a JSON object.
    """

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""

    @property
    def starts_call(self) -> bool:
        """Tell whether this piece opens its call (the renderers announce a new call on it)."""
        return self.id is not None


@dataclass
class HeldContent:
    """The upstream sent content that the gateway holds back for now (a tool-call block still arriving).

    It resets the relay's content deadlines without reaching the client.
    """

    chars: int = 0


@dataclass
class Usage:
    """Token counts; optional fields stay None when the upstream did not say."""

    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int | None = None
    cached_tokens: int | None = None
    counted: bool = False    # True when we counted with the tokenizer rather than the upstream reporting it

    def as_openai(self) -> dict:
        """Render in OpenAI's usage shape, with details only when known."""
        usage = {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                 "total_tokens": self.prompt_tokens + self.completion_tokens}
        if self.reasoning_tokens is not None:
            usage["completion_tokens_details"] = {"reasoning_tokens": self.reasoning_tokens}
        if self.cached_tokens is not None:
            usage["prompt_tokens_details"] = {"cached_tokens": self.cached_tokens}
        return usage


@dataclass
class Finish:
    """The upstream completed the answer, for this reason."""

    reason: str = "stop"
    stop_sequence: str | None = None   # the client's stop sequence that ended the answer, when one did


@dataclass
class Conversation:
    """The upstream conversation this answer belongs to (deepseek-web: `<session>@<message_id>`)."""

    id: str
    extra: dict = field(default_factory=dict)


class KeepAlive:
    """The upstream is alive but has sent no content (a comment or a blank line)."""


KEEPALIVE = KeepAlive()

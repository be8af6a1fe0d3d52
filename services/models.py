"""What a requested model name asks for: reasoning, web search, silent sources, folded reasoning, the expert model."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

# Words our own model names are built from (the original's names plus the legacy ones).
_ALIAS_WORDS = {"chat", "code", "coder", "v3", "r1", "think", "thinking", "reasoner", "search", "silent", "fold",
                "expert", "pro"}
_ALIAS_RE = re.compile(r"^deepseek(?:[-_][a-z0-9]+)*$")

# The names listed by /v1/models, grouped by the capability a provider needs to serve them.
ALIASES = {
    "chat": ("deepseek-chat", "deepseek_chat", "deepseek_code", "deepseek-v3"),
    "reasoning": ("deepseek-reasoner", "deepseek-r1", "deepseek-think", "deepseek-r1-fold", "deepseek-think-fold"),
    "search": ("deepseek-search", "deepseek-search-silent", "deepseek-r1-search", "deepseek-think-search",
               "deepseek-r1-search-silent", "deepseek-think-search-silent", "deepseek-think-search-fold"),
    # The web chat's "Pro" model (model_type "expert"), which only deepseek-web tokens serve.
    "expert": ("deepseek-expert", "deepseek-expert-think", "deepseek-expert-search"),
}


@dataclass(frozen=True)
class ModelRequest:
    """A model name as the client sent it and the capabilities it selects."""

    name: str
    alias: bool
    reasoning: bool = False
    search: bool = False
    silent: bool = False
    fold: bool = False
    expert: bool = False
    # The client's name when the gateway answers it as one of ours (a name the web chat does not know).
    asked: str | None = None

    @property
    def capability(self) -> str:
        """The key of a provider's models map that serves this name."""
        return "reasoner" if self.reasoning else "chat"

    @property
    def needs(self) -> set[str]:
        """Capabilities a provider must have to serve this request."""
        needs = {"reasoning"} if self.reasoning else {"chat"}
        if self.search:
            needs.add("search")
        if self.expert:
            needs.add("expert")
        return needs


    def reported(self, client_name: str) -> str:
        """The name an answer reports: what the client asked for, unless it was served as another of ours."""
        return self.name if self.asked else client_name

    def as_ours(self) -> "ModelRequest":
        """This request served as our own name with the same capabilities (`gpt-4o` -> `deepseek-chat`)."""
        tail = [w for w, on in (("search", self.search), ("silent", self.silent),
                                ("fold", self.fold and self.reasoning)) if on]
        head = ["expert"] if self.expert else []
        if self.reasoning:
            head.append("think" if self.expert else "r1" if tail else "reasoner")
        ours = parse_model("deepseek-" + "-".join(head + tail or ["chat"]))
        return replace(ours, asked=self.name)


def parse_model(name: str) -> ModelRequest:
    """Read capabilities from a model name by substring, as the original gateway did."""
    lowered = name.lower()
    words = set(re.split(r"[-_]", lowered)[1:])
    alias = bool(_ALIAS_RE.match(lowered)) and words <= _ALIAS_WORDS
    return ModelRequest(
        name=name,
        alias=alias,
        reasoning=any(w in lowered for w in ("think", "r1", "reasoner")),
        search="search" in lowered,
        silent="silent" in lowered,
        fold="fold" in lowered,
        expert=bool(words & {"expert", "pro"}),
    )

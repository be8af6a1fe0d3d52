"""`POST /token/check`: ask a token's own upstream whether it is live."""

from __future__ import annotations

from typing import Callable

from services.credentials import parse_tokens
from services.errors import BadRequest
from services.pool import TokenPool
from services.providers.registry import Registry


class TokenChecker:
    """Checks one token against its provider's cheap key-check call."""

    def __init__(self, registry: Registry, adapter_for: Callable[[str], object], pool: TokenPool):
        self.registry, self.adapter_for, self.pool = registry, adapter_for, pool

    def check(self, text: str) -> dict:
        """Return `{"live": bool, "provider": name}` (web tokens add `state`: ok, muted with `muted_until`, dead
        or banned); a live token in good standing is usable again at once."""
        tokens = parse_tokens(text, self.registry)
        if len(tokens) != 1:
            raise BadRequest("Send exactly one token in 'token'.", param="token")
        token = tokens[0]
        if not self.registry.has(token.provider):
            raise BadRequest(f"No provider named '{token.provider}' is configured.", param="token")
        verdict = self.adapter_for(token.provider).check(token)
        report = dict(verdict) if isinstance(verdict, dict) else {"live": bool(verdict)}
        error = report.pop("error", None)
        if error is not None:
            self.pool.report_failure(token, error)  # a stated mute or ban rests the account before any answer
        if report["live"] and report.get("state", "ok") == "ok":
            self.pool.mark_live(token)
        return {**report, "provider": token.provider}

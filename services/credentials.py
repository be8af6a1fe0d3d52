"""Turn "Bearer A,B,C" into Token records that name a provider and never show their secret."""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Iterable

from services.errors import BadRequest, Unauthorized


@dataclass(frozen=True)
class Token:
    """One upstream credential: the provider it belongs to and its secret."""

    provider: str
    secret: str = field(repr=False)

    @functools.cached_property
    def ref(self) -> str:
        """A short stable hash that names the token in logs, errors and /pool; display only, never a lookup key
        (24 bits collide: state is keyed by `key`)."""
        digest = hashlib.sha256(f"{self.provider}:{self.secret}".encode()).hexdigest()
        return f"tok:{digest[:6]}"

    def key(self, state_secret: bytes) -> str:
        """The full-length keyed hash (HMAC-SHA256 under the deployment's state secret) its state is kept under."""
        # Kept beside the secret it was made with: a request looks its tokens up several times.
        made = self.__dict__.get("_key")
        if made is None or made[0] is not state_secret:
            made = self.__dict__["_key"] = (state_secret, hmac.new(state_secret, f"{self.provider}:{self.secret}"
                                                                   .encode(), hashlib.sha256).hexdigest())
        return made[1]

    def __str__(self) -> str:
        return self.ref


def bearer_value(header: str | None) -> str:
    """Return what follows "Bearer " in an Authorization header, or raise 401."""
    if not header or not header.strip():
        raise Unauthorized("No credentials: send 'Authorization: Bearer <token>[,<token>...]'.",
                           code="missing_api_key")
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("The Authorization header must be 'Bearer <token>[,<token>...]'.",
                           code="invalid_authorization_header")
    return value.strip()


def presented(authorization: str | None, api_key: str | None = None) -> str:
    """The credential a caller presented: the Bearer value, else an `x-api-key` header (or raise 401)."""
    # Anthropic's clients send `x-api-key` instead of a Bearer header.
    if (not authorization or not authorization.strip()) and api_key and api_key.strip():
        authorization = "Bearer " + api_key.strip()
    return bearer_value(authorization)


def caller_ref(authorization: str | None, api_key: str | None = None) -> str:
    """A hash of the presented credential, which scopes what a caller stored (never the credential itself)."""
    return hashlib.sha256(presented(authorization, api_key).encode()).hexdigest()


def parse_tokens(value: str, registry) -> list[Token]:
    """Split a comma-separated token list into Token records, trimmed and without duplicates."""
    tokens: list[Token] = []
    for part in _split(value):
        token = _parse_one(part, registry)
        if token not in tokens:
            tokens.append(token)
    if not tokens:
        raise Unauthorized("No token found in the Authorization header.", code="missing_api_key")
    return tokens


def _split(value: str) -> Iterable[str]:
    """Split on commas that are not inside a JSON web token such as {"value": "...", "__version": "0"}."""
    depth, start = 0, 0
    for i, ch in enumerate(value):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0:
            if value[start:i].strip():
                yield value[start:i].strip()
            start = i + 1
    if value[start:].strip():
        yield value[start:].strip()


def _parse_one(text: str, registry) -> Token:
    """Recognise one token's provider from its `name:` prefix or the shape of its secret."""
    name, sep, rest = text.partition(":")
    if sep and registry.has(name.strip()):
        provider, secret = name.strip(), rest.strip()
    else:
        provider, secret = registry.provider_for_secret(text), text
    if not secret:
        raise BadRequest(f"The token for provider '{provider}' is empty.", code="invalid_api_key")
    if secret.startswith("{"):
        secret = _json_token_value(secret)
    _refuse_unsendable(secret, provider)
    return Token(provider, secret)


def _refuse_unsendable(secret: str, provider: str) -> None:
    """Refuse a secret that cannot travel in an HTTP header: a client's mistake, never the upstream's."""
    for ch in secret:
        if not " " <= ch <= "~":
            kind = "a control character" if ch < " " or ch == "\x7f" else "a non-ASCII character"
            # The code point, never the secret: it says what to fix without showing the token.
            raise BadRequest(f"A token for provider '{provider}' contains {kind} (U+{ord(ch):04X}); tokens are "
                             "printable ASCII. Copy it again without line breaks or stray characters.",
                             code="invalid_api_key")


def _json_token_value(secret: str) -> str:
    """Accept the browser's localStorage form {"value": "<token>", "__version": "0"}."""
    try:
        data = json.loads(secret)
    except ValueError:
        return secret
    if isinstance(data, dict) and isinstance(data.get("value"), str) and data["value"].strip():
        return data["value"].strip()
    return secret

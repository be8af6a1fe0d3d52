"""Turn "Bearer A,B,C" into Token records that name a provider and never show their secret."""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from typing import Iterable

from services.errors import BadRequest, Unauthorized
from services.providers.registry import FALLBACK_PROVIDER

# What a `name:` prefix looks like: a short word. A web-chat userToken is base64 (letters, digits, + / =) and
# the browser's JSON form starts with '{', so `word:rest` with an unknown word names a provider we do not know.
_PREFIX_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,39}")
# Pasted wrappings a secret never has: a repeated "Bearer " and surrounding quotes are stripped.
_BEARER_RE = re.compile(r"^(?:bearer\s+)+", re.I)
_QUOTES = ('"', "'")


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
    return bearer_value(sent_text(authorization))


def sent_text(header: str | None) -> str | None:
    """A header value as the client wrote it: WSGI servers decode header bytes as latin-1, so UTF-8 sent by
    the client (an `ö` pasted into a token) is recovered, and reported as the character it was."""
    if not header:
        return header
    try:
        return header.encode("latin-1").decode("utf-8")
    except UnicodeError:   # not UTF-8 (or already text): keep what arrived
        return header


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
    text = _unwrapped(text)
    name, sep, rest = text.partition(":")
    if sep and registry.has(name.strip()):
        provider, secret = name.strip(), _unwrapped(rest)
    elif sep and _PREFIX_RE.fullmatch(name) and registry.provider_for_secret(name) == FALLBACK_PROVIDER:
        # Sent on as a web-chat token, the key would reach a service it was never meant for.
        raise BadRequest(f"Unknown provider prefix '{name}:'. Known providers: "
                         f"{', '.join(registry.names())}; a provider of your own is added in the providers "
                         "file (FREESEEK_PROVIDERS_FILE).", code="unknown_provider")
    else:   # (a key shape before the ':' keeps the key with its own provider, and out of the message above)
        provider, secret = registry.provider_for_secret(text), text
    if not secret:
        raise BadRequest(f"The token for provider '{provider}' is empty.", code="invalid_api_key")
    if secret.startswith("{"):
        secret = _json_token_value(secret)
    _refuse_unsendable(secret, provider)
    return Token(provider, secret)


def _unwrapped(text: str) -> str:
    """Strip what copying a token often adds and no secret holds: a repeated 'Bearer ', surrounding quotes."""
    text = _BEARER_RE.sub("", text.strip())
    while len(text) >= 2 and text[0] == text[-1] and text[0] in _QUOTES:
        text = text[1:-1].strip()
    return text


def _refuse_unsendable(secret: str, provider: str) -> None:
    """Refuse a secret that cannot travel in an HTTP header: a client's mistake, never the upstream's."""
    for ch in secret:
        if not " " < ch <= "~":
            if ch == " ":
                kind = "a space"
            elif ch < " " or "\x7f" <= ch <= "\x9f":
                kind = f"a control character (U+{ord(ch):04X})"
            else:
                kind = f"the non-ASCII character '{ch}' (U+{ord(ch):04X})"
            # The one character, never the secret: it says what to fix without showing the token.
            raise BadRequest(f"A token for provider '{provider}' contains {kind}; tokens are printable ASCII "
                             "without spaces. Copy it again without line breaks or stray characters.",
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

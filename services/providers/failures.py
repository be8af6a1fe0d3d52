"""Turn an upstream's failure into a gateway error, and say what it means for the token and for failover."""

from __future__ import annotations

import json
import re
import time
from datetime import timezone
from email.utils import parsedate_to_datetime

from services.credentials import Token
from services.errors import (Forbidden, GatewayError, PaymentRequired, RateLimited, Unauthorized, UpstreamError,
                             UpstreamUnavailable, error_for_status)

_WAIT_RE = re.compile(r"(?:wait|after|retry in)\s+(\d{1,15}(?:\.\d{1,6})?)\s*(?:s\b|sec|second)", re.I)
# Retry-After's delta-seconds and the providers' retry-after-ms, with a bound on the digits read (the value is
# capped anyway; a thousand-digit number is not a wait).
_DELTA_SECONDS_RE = re.compile(r"[0-9]{1,15}")
_MILLISECONDS_RE = re.compile(r"[0-9]{1,18}(?:\.[0-9]{1,6})?")
MAX_RETRY_AFTER = 3600.0  # FREESEEK_MAX_RETRY_AFTER_SECONDS' default
_QUOTA_WORDS = ("balance", "quota", "insufficient", "credit", "余额")
# Anything that looks like a key, or a masked key ("****abcd"), is cut out of upstream text.
_KEYLIKE_RE = re.compile(r"(?:sk-|hf_|ghp_|github_pat_)[A-Za-z0-9_\-]+|\*{2,}[A-Za-z0-9_\-]*")


def failure(error: GatewayError, *, token_state: str | None, retryable: bool) -> GatewayError:
    """Tag an error with what it means for the token ("dead", "cooldown", "rest") and for failover."""
    error.token_state = token_state
    error.retryable = retryable
    return error


def upstream_message(body: bytes | str) -> str:
    """Pull the human message out of any of the providers' error shapes."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        data = json.loads(text)
    except ValueError:
        return text.strip()[:300]
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict):
            for key in ("message", "msg", "detail", "error"):
                if isinstance(err.get(key), str):
                    return err[key][:300]
        if isinstance(err, str):
            return err[:300]
    return text.strip()[:300]


FRAGMENT = 4  # shortest run of a secret's characters that is cut out of upstream text


def scrub(text: str, token: Token) -> str:
    """Remove every fragment of the token's secret, and anything key-like, from upstream text."""
    secret = token.secret or ""
    if len(secret) >= FRAGMENT:
        # Upstreams echo keys masked in many ways ("sk-ab...wxyz", "ending in 5678"): cut every run of at
        # least FRAGMENT characters that also occurs in the secret, not only the whole secret.
        grams = {secret[i:i + FRAGMENT] for i in range(len(secret) - FRAGMENT + 1)}
        spans: list[list[int]] = []
        for i in range(len(text) - FRAGMENT + 1):
            if text[i:i + FRAGMENT] in grams:
                if spans and spans[-1][1] >= i:
                    spans[-1][1] = i + FRAGMENT
                else:
                    spans.append([i, i + FRAGMENT])
        for start, end in reversed(spans):
            text = text[:start] + "[redacted]" + text[end:]
    return _KEYLIKE_RE.sub("[redacted]", text)


def retry_after(headers, text: str, cap: float = MAX_RETRY_AFTER) -> float | None:
    """Seconds to wait, capped: from `retry-after-ms`, `Retry-After` as HTTP says (delta-seconds or an
    HTTP-date) or a "wait N seconds" message; anything else (`inf`, `nan`, `1e308`, `-5`, words) is absent."""
    wait = None
    value = (headers.get("retry-after-ms") or "").strip() if headers else ""
    if _MILLISECONDS_RE.fullmatch(value):
        wait = float(value) / 1000
    value = (headers.get("retry-after") or "").strip() if headers else ""
    if wait is None and value:
        wait = _http_retry_after(value)
    if wait is None:
        match = _WAIT_RE.search(text)
        wait = float(match.group(1)) if match else None
    return None if wait is None else min(wait, cap)


def _http_retry_after(value: str) -> float | None:
    """Retry-After's two forms (RFC 9110 10.2.3): a non-negative integer of seconds, or the date to retry at."""
    if _DELTA_SECONDS_RE.fullmatch(value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # only GMT dates are HTTP-dates; a zone-less one is read as GMT
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - time.time())


def classify_status(provider: str, token: Token, status: int, body: bytes | str, headers=None,
                    max_wait: float = MAX_RETRY_AFTER, key_prefixes: tuple[str, ...] = ()) -> GatewayError:
    """Map an upstream HTTP failure to an error by its status class (the README's failover rules); an
    upstream's wait is believed up to `max_wait` seconds, and a key recognised by its shape (`key_prefixes`)
    is told how another provider's key of that shape is sent."""
    text = upstream_message(body)
    who = f"{provider} rejected token {token.ref}"
    quota = any(word in text.lower() for word in _QUOTA_WORDS)
    if status == 402 or (status in (400, 403) and quota):
        # Upstream auth and billing text can echo key fragments: say it in our own words.
        return failure(PaymentRequired(f"{who}: the account has no balance or quota left (HTTP {status})."),
                       token_state="dead", retryable=True)
    if status == 401:
        hint = _prefix_hint(provider, token, key_prefixes)
        return failure(Unauthorized(f"{who}: the key is invalid or revoked (HTTP 401).{hint}"),
                       token_state="dead", retryable=True)
    if status == 403:
        return failure(Forbidden(f"{who}: access denied (HTTP 403)."), token_state="dead", retryable=True)
    if status == 429:
        wait = retry_after(headers, text, max_wait)
        hint = f"; retry after {wait:g} s" if wait else ""
        return failure(RateLimited(f"{provider} rate-limited token {token.ref}{hint}.", retry_after=wait),
                       token_state="cooldown", retryable=True)
    if status == 408 or status >= 500:
        cls = UpstreamUnavailable if status in (503, 529) else UpstreamError
        return failure(cls(f"{provider} failed with HTTP {status}: {scrub(text, token)}".rstrip(": "),
                           retry_after=retry_after(headers, text, max_wait)),
                       token_state="rest", retryable=True)
    return failure(error_for_status(status, f"{provider}: {scrub(text, token) or f'HTTP {status}'}"),
                   token_state=None, retryable=False)


def _prefix_hint(provider: str, token: Token, key_prefixes: tuple[str, ...]) -> str:
    """Say that a key of this shape goes to this provider unless it names another (`siliconflow:sk-...`)."""
    prefix = next((p for p in key_prefixes if token.secret.startswith(p)), None)
    if prefix is None:
        return ""
    return (f" A key starting with '{prefix}' is sent to {provider}; another provider's key needs that "
            f"provider's name first, as in 'siliconflow:{prefix}...'.")


def connection_failed(provider: str, what: str) -> GatewayError:
    """An upstream that could not be reached or dropped the connection."""
    return failure(UpstreamError(f"{provider}: {what}."), token_state="rest", retryable=True)

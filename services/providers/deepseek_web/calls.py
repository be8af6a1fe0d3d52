"""The web chat's JSON calls: identity headers, the envelope, proof-of-work answers, and what each refusal means."""

from __future__ import annotations

import json
import math
import time

import requests

from services.credentials import Token
from services.errors import (Forbidden, GatewayError, RateLimited, Unauthorized, UpstreamError,
                             UpstreamUnavailable)
from services.offload import run_blocking
from services.providers.deepseek_web import drift as d
from services.providers.deepseek_web import protocol as p
from services.providers.deepseek_web.pow import RATE, pow_response, solve
from services.providers.failures import classify_status, connection_failed, failure, scrub
from services.providers.registry import Provider
from services.settings import Settings

INVALID_POW = "invalid_pow"   # the code of the error that earns one fresh challenge on the same account
INVALID_PARENT = "invalid_parent_message"   # the code of a refused parent message id (not the account's fault)
FETCH = object()              # with_pow: fetch the first challenge too
# Challenges are typically 144,000 tries (~0.1 s); far larger ones would tie up a solver thread that cannot
# be interrupted, so they are refused.
MAX_DIFFICULTY = 5_000_000


# The web chat mutes for 1 to 9 days: a real mute of that length is honoured, but an end further away than this
# (milliseconds read as seconds, a nonsense number) is treated as unstated rather than resting an account for ages.
MAX_MUTE_SECONDS = 30 * 86400.0


def mute_end(mute_until, now: float) -> float | None:
    """The mute's end as a unix time, or None when it is absent, not finite or beyond MAX_MUTE_SECONDS."""
    if isinstance(mute_until, bool) or not isinstance(mute_until, (int, float)):
        return None
    until = float(mute_until)
    return until if math.isfinite(until) and 0 < until <= now + MAX_MUTE_SECONDS else None


def until_text(moment: float) -> str:
    """A unix time as people read it in an error message."""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(moment))


class WebCalls:
    """Makes one call at a time to the web chat as its own client does, and classifies every refusal."""

    def __init__(self, provider: Provider, http: requests.Session, settings: Settings, drift: d.Drift | None = None):
        self.provider, self.http, self.settings = provider, http, settings
        self.drift = drift or d.Drift()   # unknown codes, content types and reply fields are counted here
        s = settings
        self._identity = {**p.client_headers(s.web_client_version, s.web_client_locale, s.web_timezone_offset,
                                             s.web_user_agent), **provider.headers, "Origin": provider.base_url}

    def headers(self, token: Token, session_id: str | None = None) -> dict:
        """Headers of a call; a call about a session comes from that session's page."""
        page = p.SESSION_PAGE + session_id if session_id else "/"
        return {**self._identity, "Authorization": f"Bearer {token.secret}",
                "Referer": self.provider.base_url.rstrip("/") + page}

    def call(self, token: Token, method: str, path: str, body: dict | None = None, *, params: dict | None = None,
             files: dict | None = None, headers: dict | None = None):
        """One JSON call (or a multipart upload): the envelope's biz_data, or a classified error."""
        try:
            response = self.http.request(method, self.provider.url(path), params=params,
                                         json=body if files is None else None, files=files,
                                         headers={**self.headers(token), **(headers or {})},
                                         timeout=(self.settings.connect_timeout, 30))
        except requests.RequestException:
            raise connection_failed(self.provider.name, "could not reach the web chat") from None
        with response:
            data = self.reply(token, response.status_code, response.headers, response.content)
        d.check_reply(self.drift, path, data)
        return data

    def reply(self, token: Token, status: int, headers, content: bytes):
        """Read a JSON reply: its biz_data, or the error its envelope, status or headers stand for."""
        blocked = self._block_cause(status, headers)
        if blocked:
            # The block is this server's (its IP or region), not the account's: the account is not set aside.
            raise failure(Forbidden(f"{self.provider.name}: {blocked}; this is not the account's fault.",
                                    code="web_chat_blocked"), token_state=None, retryable=True)
        kind = d.content_type(headers)
        if kind and kind not in p.JSON_TYPES and kind != p.STREAM_TYPE:
            self.drift.note(d.CONTENT_TYPE, kind, {"status": status})
        try:
            envelope = json.loads(content or b"null")
        except ValueError:
            envelope = None
        if not isinstance(envelope, dict):
            if status >= 400:
                # A CDN's HTML error page says nothing a client can use: the status alone is the message.
                raise classify_status(self.provider.name, token, status, b"" if kind == "text/html" else content,
                                      headers, self.settings.max_retry_after_seconds)
            raise connection_failed(self.provider.name, "the web chat sent a reply that is not JSON")
        error = p.envelope_error(envelope)
        if error is not None and error[1] not in (p.KNOWN_CODES if error[0] == "code" else p.KNOWN_BIZ_CODES):
            self.drift.note(d.CODE, f"{'code' if error[0] == 'code' else 'biz_code'}:{error[1]}",
                            {"msg": error[2]})
        if error is None and status < 400:
            return p.biz_data(envelope)
        if error is None:
            raise classify_status(self.provider.name, token, status, content, headers,
                                      self.settings.max_retry_after_seconds)
        raise self.refusal(token, *error)

    def _block_cause(self, status: int, headers) -> str | None:
        """What a WAF, region block or browser challenge looks like, named; None for a normal reply."""
        if status == 202 and headers.get(p.WAF_HEADER):
            return f"a web application firewall held the call back (HTTP 202, {p.WAF_HEADER}: " \
                   f"{headers.get(p.WAF_HEADER)}); DeepSeek blocks many IPs outside mainland China"
        if status in (403, 429) and headers.get(p.CHALLENGE_HEADER) == "challenge":
            return f"the site answered with a browser challenge (HTTP {status}) that a gateway cannot pass"
        # An HTML page is a block below 500; at 500 and above it is the site's or its CDN's outage page
        # (CloudFront's 502/503/504), which fails over and rests the account briefly like any 5xx.
        if status < 500 and "text/html" in headers.get("Content-Type", ""):
            return f"the web chat answered with an HTML page (HTTP {status}): a WAF or region block " \
                   "(DeepSeek blocks many IPs outside mainland China)"
        return None

    def refusal(self, token: Token, where: str, code: int, message: str, data: dict) -> GatewayError:
        """The gateway error an envelope's code stands for, tagged with what it means for the account."""
        name, ref = self.provider.name, token.ref
        if where == "code" and code in p.DEAD_TOKEN_CODES:
            return failure(Unauthorized(f"{name} rejected token {ref}: invalid or expired web token (code {code}); "
                                        "log in again and copy a fresh userToken."), token_state="dead",
                           retryable=True)
        if where == "code" and code == p.CLIENT_TOO_OLD_CODE:
            return failure(UpstreamError(
                f"{name} refuses client version {self.settings.web_client_version} (code 40005, "
                "CLIENT_VERSION_TOO_LOW): set FREESEEK_WEB_CLIENT_VERSION to the current web client's version.",
                code="client_version_too_low"), token_state=None, retryable=True)
        if where == "code" and code == p.INVALID_POW_CODE:
            return failure(UpstreamError(f"{name} rejected the proof-of-work answer for {ref} (code 40301).",
                                         code=INVALID_POW), token_state="rest", retryable=True)
        if where == "code" and code in p.OVERLOADED_CODES:
            return failure(UpstreamUnavailable(f"{name} is overloaded (code {code}); try again shortly."),
                           token_state="rest", retryable=True)
        if where == "biz" and code == p.MUTED_BIZ_CODE:
            return self.muted(token, data.get("mute_until"))
        if where == "biz" and code == p.INVALID_MESSAGE_BIZ_CODE:
            return failure(UpstreamError(f"{name}: the web chat refused the parent message id (biz {code}).",
                                         code=INVALID_PARENT), token_state=None, retryable=False)
        if where == "biz" and code in p.BANNED_BIZ_CODES:
            return failure(Forbidden(f"{name}: account {ref} is {p.BANNED_BIZ_CODES[code]} by DeepSeek.",
                                     code="account_banned"), token_state="dead", retryable=True)
        if code == p.UPLOAD_RATE_LIMIT_CODE or any(w in message.lower() for w in p.RATE_LIMIT_WORDS):
            return failure(RateLimited(f"{name}: account {ref} is sending too frequently (rate-limited by the "
                                       "web chat)."), token_state="cooldown", retryable=True)
        detail = scrub(message, token)[:200]
        return failure(UpstreamError(f"{name}: the web chat refused the call ({where} {code}"
                                     f"{': ' + detail if detail else ''})."), token_state="rest", retryable=True)

    def muted(self, token: Token, mute_until) -> GatewayError:
        """A muted account: it rests until the mute ends, and says until when."""
        until = mute_end(mute_until, time.time())
        when = f" until {until_text(until)}" if until else ""
        wait = max(1.0, until - time.time()) if until else None
        return failure(Forbidden(f"{self.provider.name}: account {token.ref} is muted by DeepSeek{when}.",
                                 code="account_muted", retry_after=wait), token_state="cooldown", retryable=True)

    def with_pow(self, token: Token, target_path: str, send, first=FETCH):
        """Call `send(header)` with `first` (a header, None for none, or FETCH); a refused proof earns one fresh
        challenge on the same account, and a second refusal stands."""
        try:
            return send(self.pow_header(token, target_path) if first is FETCH else first)
        except GatewayError as error:
            if error.code != INVALID_POW:
                raise
        return send(self.pow_header(token, target_path))

    def pow_header(self, token: Token, target_path: str) -> str:
        """Fetch a fresh challenge for one path and answer it honestly (solved off the event loop)."""
        data = self.call(token, "POST", p.CREATE_POW_CHALLENGE, p.pow_challenge_body(target_path)) or {}
        challenge = data.get("challenge") if isinstance(data, dict) else None
        if not isinstance(challenge, dict) or challenge.get("algorithm") != p.POW_ALGORITHM:
            raise connection_failed(self.provider.name, "the web chat sent a proof-of-work challenge of an "
                                                        "unknown kind")
        try:
            args = (str(challenge["challenge"]), str(challenge["salt"]), int(challenge["expire_at"]),
                    int(challenge["difficulty"]))
            if (len(bytes.fromhex(args[0])) != 32 or not 0 < args[3] <= MAX_DIFFICULTY
                    or len(f"{args[1]}_{args[2]}_{args[3]}".encode()) >= RATE
                    or not {"signature", "target_path"} <= challenge.keys()):
                raise ValueError(args[0])
        except (KeyError, TypeError, ValueError):
            raise connection_failed(self.provider.name, "the web chat sent a malformed proof-of-work "
                                                        "challenge") from None
        answer = run_blocking(solve, *args)
        if answer is None:
            raise connection_failed(self.provider.name, "no answer to the proof-of-work challenge exists")
        return pow_response(challenge, answer)

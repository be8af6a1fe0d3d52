"""The one error hierarchy: each kind knows its HTTP status and OpenAI error type."""

from __future__ import annotations

import inspect
import math


class GatewayError(Exception):
    """A failure the client is told about in OpenAI's error shape."""

    status = 500
    type = "api_error"
    code: str | None = None
    # Set on upstream failures (services/providers/failures.py): may another token be tried, and what
    # the failure means for this token ("dead", "cooldown", "rest" or None).
    retryable = False
    token_state: str | None = None

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None,
                 retry_after: float | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        self.retry_after = retry_after

    def body(self) -> dict:
        """Render the error as OpenAI's `{"error": {...}}` object."""
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def headers(self) -> dict[str, str]:
        """Headers that tell SDKs whether and when to retry."""
        headers = {}
        if self.retry_after is not None and math.isfinite(self.retry_after):
            headers["Retry-After"] = str(max(1, int(self.retry_after + 0.999)))
        if self.status < 500 and self.status not in (408, 409, 429):
            headers["x-should-retry"] = "false"
        return headers


class BadRequest(GatewayError):
    status, type, code = 400, "invalid_request_error", "invalid_request"


class Unauthorized(GatewayError):
    status, type, code = 401, "authentication_error", "invalid_api_key"


class PaymentRequired(GatewayError):
    status, type, code = 402, "insufficient_quota", "insufficient_quota"


class Forbidden(GatewayError):
    status, type, code = 403, "permission_error", "forbidden"


class NotFound(GatewayError):
    status, type, code = 404, "not_found_error", "not_found"


class MethodNotAllowed(GatewayError):
    status, type, code = 405, "invalid_request_error", "method_not_allowed"


class PayloadTooLarge(GatewayError):
    status, type, code = 413, "invalid_request_error", "request_too_large"


class UnsupportedMediaType(GatewayError):
    status, type, code = 415, "invalid_request_error", "unsupported_media_type"


class Unprocessable(GatewayError):
    status, type, code = 422, "invalid_request_error", "unprocessable_entity"


class RateLimited(GatewayError):
    status, type, code = 429, "rate_limit_error", "rate_limit_exceeded"


class UpstreamError(GatewayError):
    """The upstream failed in a way another token (or a later try) may not."""

    status, type, code = 502, "upstream_error", "upstream_error"


class UpstreamUnavailable(UpstreamError):
    status, code = 503, "upstream_unavailable"


class UpstreamTimeout(UpstreamError):
    status, code = 504, "upstream_timeout"


class ClientGone(Exception):
    """The client closed its connection; nobody is left to tell."""


_BY_STATUS = {cls.status: cls for cls in (BadRequest, Unauthorized, PaymentRequired, Forbidden, NotFound,
                                           MethodNotAllowed, PayloadTooLarge, UnsupportedMediaType,
                                           Unprocessable, RateLimited)}


def error_for_status(status: int, message: str, **kwargs) -> GatewayError:
    """Build the gateway error that matches an HTTP status of our own."""
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = GatewayError if status >= 500 else BadRequest
    error = cls(message, **kwargs)
    if cls is GatewayError:
        error.status = status
    return error


_BY_NAME = {cls.__name__: cls for cls in (GatewayError, BadRequest, Unauthorized, PaymentRequired, Forbidden, NotFound,
                                          MethodNotAllowed, PayloadTooLarge, UnsupportedMediaType, Unprocessable,
                                          RateLimited, UpstreamError, UpstreamUnavailable, UpstreamTimeout)}


def restate(kind: str, message: str, code: str | None = None, **kwargs) -> GatewayError:
    """Rebuild a remembered error (its class by name) so a later refusal reports it with its own status."""
    error = _BY_NAME.get(kind, UpstreamError)(message, **kwargs)
    if code:
        error.code = code
    return error


# When several tokens failed, the error a client can act on best: retry-later before retry-never.
TELLING = (RateLimited, UpstreamUnavailable, UpstreamTimeout, UpstreamError, PaymentRequired, Forbidden, Unauthorized)


def telling_rank(error: GatewayError) -> int:
    """How well a client can act on the error (lower is better)."""
    return next((i for i, cls in enumerate(TELLING) if type(error) is cls), len(TELLING))


# A generator's frame is never cleared here: clearing a suspended one would close its generator.
_GENERATOR_FLAGS = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR


def clear_frames(error: BaseException) -> None:
    """Empty the finished frames on the tracebacks of an error and of the errors it was raised during: a
    frame that keeps one of them in a local (urllib3's urlopen does) is a cycle only the cyclic collector
    frees (docs/serving.md). The tracebacks still print; running frames and generators are left alone."""
    pending, seen = [error], set()
    while pending:
        exc = pending.pop()
        if exc is None or id(exc) in seen:
            continue
        seen.add(id(exc))
        tb = exc.__traceback__
        while tb is not None:
            if not tb.tb_frame.f_code.co_flags & _GENERATOR_FLAGS:
                try:
                    tb.tb_frame.clear()
                except RuntimeError:
                    pass  # still running: its locals go when it returns
            tb = tb.tb_next
        pending += (exc.__cause__, exc.__context__)


def detach(error: BaseException) -> BaseException:
    """Keep an error for its class, message and status only: its frames cleared and its traceback and the
    errors it was raised during let go, so that a failure that is recorded or handed on holds no cycle."""
    clear_frames(error)
    error.__traceback__ = error.__cause__ = error.__context__ = None
    return error

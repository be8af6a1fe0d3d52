"""The deadlines one try of a request is held to, and the error that names the one that passed."""

from __future__ import annotations

from services.attempt import Attempt
from services.errors import GatewayError, UpstreamTimeout
from services.providers.failures import failure
from services.settings import Settings


def deadline_passed(s: Settings, attempt: Attempt, now: float, run_started: float,
                    precommit_over: bool) -> GatewayError | None:
    """The error for the first deadline the try has passed (None while it is within all of them);
    `precommit_over` says the request waited its whole pre-commit budget without an upstream accepting."""
    name = attempt.token.provider
    if precommit_over:
        # Nothing is written before an upstream accepted; waiting longer would meet the platform's own
        # first-byte limit (Heroku's 30 s) with its error instead of ours.
        return failure(UpstreamTimeout(f"{name}: no upstream accepted the request within {s.precommit_seconds:g} s "
                                       "(FREESEEK_PRECOMMIT_SECONDS)."), token_state=None, retryable=True)
    if now - run_started > s.total_timeout:
        return failure(UpstreamTimeout(f"{name}: the answer took longer than {s.total_timeout:g} s "
                                       "(FREESEEK_TOTAL_TIMEOUT)."), token_state=None, retryable=False)
    if attempt.content_at is None and now - attempt.started > s.first_content_timeout:
        return failure(UpstreamTimeout(f"{name}: no content within {s.first_content_timeout:g} s "
                                       "(FREESEEK_FIRST_CONTENT_TIMEOUT)."), token_state="rest", retryable=True)
    if attempt.content_at is not None and now - attempt.content_at > s.idle_timeout:
        return failure(UpstreamTimeout(f"{name}: no content for {s.idle_timeout:g} s (FREESEEK_IDLE_TIMEOUT)."),
                       token_state="rest", retryable=False)
    return None

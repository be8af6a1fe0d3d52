"""What a client is told when failover ran out of tokens: the most telling error, and every token's cause."""

from __future__ import annotations

from services.credentials import Token
from services.errors import GatewayError, RateLimited, telling_rank
from services.pool import TokenPool


def most_telling(tokens: list[Token], failures: list[tuple[Token, GatewayError]], refusal: GatewayError | None,
                 pool: TokenPool, untried: str | None = None) -> GatewayError:
    """Pick the error a client can act on best, and name per token what happened and how long it rests;
    `untried` says why tokens were not tried when it was not a refused lease (the pre-commit budget spent)."""
    if not failures:
        return refusal or RateLimited("No token could take this request.", retry_after=5)
    last = dict(failures)  # each token's latest failure
    if len(failures) == 1 and len(tokens) == 1:
        best = failures[0][1]
    else:
        best = min(last.values(), key=telling_rank)
        notes = [_note(token, last.get(token), refusal, pool, untried) for token in tokens]
        best.message = f"All {len(failures)} tries failed; per token: " + "; ".join(notes)
    if isinstance(best, RateLimited):
        # Retry-After tells the truth: when the first of the request's resting tokens may be used again
        # (a web chat's rate-limit notice gives no time of its own; the pool's cooldown is the time).
        rests = [pool.rest_left(t) for t in tokens if pool.rest_left(t) and pool.refusal([t]).retry_after]
        best.retry_after = min(rests) if rests else best.retry_after or 5
    return best


def _note(token: Token, error: GatewayError | None, refusal: GatewayError | None, pool: TokenPool,
          untried: str | None) -> str:
    """One token's part of the message: what happened to it in this request, or why it was not tried."""
    rest = pool.rest_left(token)
    if error is not None:
        text = error.message if token.ref in error.message else f"{token.ref} ({token.provider}): {error.message}"
        return text + (f" (rests {rest:.0f} s)" if rest else "")
    if rest:
        return pool.refusal([token]).message
    reason = refusal.message if refusal is not None else untried or "no slot was free"
    return f"{token.ref} ({token.provider}): not tried: {reason}"

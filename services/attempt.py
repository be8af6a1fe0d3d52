"""One try of a call with one token, and what a run reports about its tries."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from services.abortable import AbortScope
from services.credentials import Token
from services.errors import GatewayError


# Slots on the records every open stream holds: a thousand streams are a thousand of each.
@dataclass(slots=True)
class Attempt:
    """One try with one token; the watchdog or a departing client may abort it from another greenlet."""

    token: Token
    started: float
    stream: object = None
    content_at: float | None = None
    abort_error: GatewayError | None = None
    scope: AbortScope = field(default_factory=AbortScope)
    woken: threading.Event = field(default_factory=threading.Event)   # opened, failed to open, or aborted
    opened: tuple | None = None      # ("stream", stream) or ("error", exception) once open() returned
    abandoned: bool = False          # nobody will read what open() returns: the opener closes it

    def abort(self) -> None:
        """Interrupt every phase: connecting, waiting for headers, the adapter's calls, the stream."""
        self.scope.abort()
        if self.stream is not None:
            self.stream.abort()
        self.woken.set()

    def abandon(self) -> None:
        """Nobody will read what open() returns: close it if it came, else let the opener close it (under
        the run's lock)."""
        self.abandoned = True
        if self.opened is not None and self.opened[0] == "stream":
            self.opened[1].close()


@dataclass(slots=True)
class RunStats:
    """What the request log line reports."""

    attempts: int = 0
    token: Token | None = None
    errors: list = field(default_factory=list)
    ttfb: float | None = None        # seconds to the first byte of the answer sent to the client
    usage: object = None             # the Usage finally reported

"""Calls the web chat makes side by side (session, uploads, challenge), each in its own thread."""

from __future__ import annotations

import threading

from services import abortable
from services.errors import GatewayError, detach


class Background:
    """Run a call in a thread (a greenlet under gevent) and collect its result or error later."""

    def __init__(self, fn, *args):
        self._result, self._error = None, None
        # Bound to the attempt's abort scope: its upstream calls are shut when the attempt is aborted.
        self._thread = threading.Thread(target=abortable.bind(self._run), args=(fn, args), daemon=True)
        self._thread.start()

    def _run(self, fn, args) -> None:
        try:
            self._result = fn(*args)
        except GatewayError as exc:  # re-raised by result(), if anyone asks
            # Without its traceback: a frame on it leads back to this one, whose `self` holds the error (a
            # cycle, when the attempt fails first elsewhere and nobody asks for this result).
            self._error = detach(exc)
        except Exception as exc:  # a bug of ours: its traceback is kept for the log
            self._error = exc

    def result(self):
        """Wait for the call; return its result or raise its error."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._result


def results(jobs: list[Background]) -> list:
    """Wait for every job, then return their results in order, or raise the first error."""
    outcomes, first_error = [], None
    for job in jobs:
        try:
            outcomes.append(job.result())
        except Exception as exc:  # kept until every job has ended
            first_error = first_error or exc
    if first_error is not None:
        raise first_error
    return outcomes

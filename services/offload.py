"""Run work beside the caller: CPU-bound work off the gevent hub, and short background tasks."""

from __future__ import annotations

import functools
import threading
from typing import Callable, TypeVar

T = TypeVar("T")


def run_blocking(fn: Callable[..., T], *args) -> T:
    """Call fn in gevent's threadpool when the process is monkey-patched, else inline."""
    try:
        from gevent import get_hub, monkey
    except ImportError:  # pragma: no cover - gevent is a runtime dependency
        return fn(*args)
    if monkey.is_module_patched("threading"):
        return get_hub().threadpool.apply(fn, args)
    return fn(*args)


def hub_pause() -> Callable[[], None] | None:
    """A call that lets the hub's other greenlets, timers and I/O run, when gevent serves us, else None."""
    try:
        from gevent import monkey, sleep
    except ImportError:  # pragma: no cover - gevent is a runtime dependency
        return None
    # sleep(0) would only switch to greenlets already runnable: timers and sockets wait for a loop pass, which a
    # timer of any length brings (measured: 160 ms pauses of a 1 ms ticker with 0, 4 ms with this).
    return functools.partial(sleep, 0.00001) if monkey.is_module_patched("threading") else None


def start_background(fn: Callable[[], None]) -> None:
    """Start fn beside the caller: a bare greenlet when the process is monkey-patched (a third of the cost
    of a patched Thread, which the relay pays on every request), else a daemon thread."""
    try:
        from gevent import monkey, spawn_raw
    except ImportError:  # pragma: no cover - gevent is a runtime dependency
        spawn_raw = None
    if spawn_raw is not None and monkey.is_module_patched("threading"):
        spawn_raw(fn)
    else:
        threading.Thread(target=fn, daemon=True).start()

"""Run CPU-bound work off the gevent hub, so other streams keep flowing meanwhile."""

from __future__ import annotations

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

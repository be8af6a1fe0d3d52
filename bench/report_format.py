"""Number formats and verdict words shared by the benchmark's report modules."""

from __future__ import annotations


def ms(value) -> str:
    return "-" if value is None else f"{value:.2f}"


def x(value) -> str:
    return "-" if value is None else f"{value:.2f}x"


def mb(kib: float) -> float:
    """KiB as MB (10^6 bytes), the unit of the footprint goals."""
    return kib * 1024 / 1e6


def met(ok: bool) -> str:
    return "met" if ok else "NOT met"

"""Shared state behind one small interface: in memory by default (memory.py); issue 12 adds Redis."""

from __future__ import annotations

from typing import Protocol

from services.errors import GatewayError


class ResponseStore(Protocol):
    """Values kept for a bounded time (and count in memory): what tool emulation remembers between rounds."""

    def put(self, key: str, value: dict) -> None:
        """Keep a JSON-serialisable value under key (replacing an older one)."""

    def get(self, key: str) -> dict | None:
        """The value kept under key, or None when it is unknown or expired."""


class StoreUnavailable(GatewayError):
    """The shared store (Redis) cannot be reached, so no account can be leased safely."""

    status, type, code = 503, "api_error", "store_unavailable"

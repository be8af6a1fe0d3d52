"""CORS for browsers: preflights answered and `Access-Control-Allow-*` on every response, errors included."""

from __future__ import annotations

from flask import Flask
from flask_cors import CORS

# What the OpenAI and Anthropic SDKs send from a page, plus the plain API headers. Regexes match whole names.
ALLOWED_HEADERS = [
    "Authorization", "Content-Type", "Accept", "x-api-key", "anthropic-version", "anthropic-beta",
    "anthropic-dangerous-direct-browser-access", "openai-organization", "openai-project", "openai-beta",
    "x-request-id", "Idempotency-Key", r"x-stainless-[a-z0-9-]+$", "x-client-request-id",
]
# Headers a page may read: retry advice, so a browser client backs off as a server-side one would.
EXPOSED_HEADERS = ["Retry-After", "x-should-retry"]


def init_cors(app: Flask, origins: tuple[str, ...]) -> None:
    """Answer CORS on every route; no cookies are ever involved, so credentials stay off."""
    CORS(app, resources={r"/*": {"origins": list(origins)}}, allow_headers=ALLOWED_HEADERS,
         expose_headers=EXPOSED_HEADERS, methods=["GET", "POST", "OPTIONS"], max_age=600,
         supports_credentials=False)

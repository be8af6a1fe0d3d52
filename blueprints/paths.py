"""One rule for where the API routes live: `/v1/X`, also `/X` and `/v1/v1/X`, for every dialect."""

from __future__ import annotations

import functools

from flask import Flask
from werkzeug.routing import Map
from werkzeug.routing.matcher import StateMachineMatcher

# The first path segment of every route under /v1 (chat/completions, messages, responses, models).
API_ROOTS = ("chat", "messages", "responses", "models")


def canonical_path(path: str) -> str:
    """The /v1 path a request means: a base URL given with or without `/v1` lands on the same route."""
    # A client that appends /v1 itself to a base URL ending in /v1 (Claude Code, the Anthropic SDK) doubles it;
    # one that appends only the route to a base URL without /v1 (OpenAI clients given the bare host) omits it.
    while path.startswith("/v1/v1/") or path == "/v1/v1":
        path = path[3:]
    first = path.lstrip("/").split("/", 1)[0]
    if first in API_ROOTS and not path.startswith("/v1/"):
        path = "/v1" + path
    return path


class CanonicalPaths:
    """WSGI middleware that rewrites PATH_INFO to its canonical /v1 path before Flask routes it."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        canonical = canonical_path(path)
        if canonical != path:
            environ["PATH_INFO"] = canonical
        return self.wsgi_app(environ, start_response)


def init_paths(app: Flask) -> None:
    """Route every request by its canonical path (errors and logs then see one path per route)."""
    app.wsgi_app = CanonicalPaths(app.wsgi_app)


class RememberingMatcher(StateMachineMatcher):
    """werkzeug's route matcher, remembering recent paths' matches: its match builds a recursive closure, a
    reference cycle per request that only the cyclic collector would free (docs/serving.md)."""

    def __init__(self, merge_slashes: bool) -> None:
        super().__init__(merge_slashes)
        # Bounded: paths are the clients' choice. Failed matches (404, 405, redirects) raise and are not kept.
        self._remembered = functools.lru_cache(maxsize=256)(super().match)

    def add(self, rule) -> None:
        self._remembered.cache_clear()
        super().add(rule)

    def match(self, domain: str, path: str, method: str, websocket: bool):
        rule, values = self._remembered(domain, path, method, websocket)
        return rule, dict(values)  # Flask and its URL processors may change the values they are given


class RoutesMap(Map):
    """The URL map, matching with a RememberingMatcher."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._matcher = RememberingMatcher(self.merge_slashes)


class GatewayFlask(Flask):
    """Flask, routing with RoutesMap."""

    url_map_class = RoutesMap

"""`GET /`: the page a person opens after deploying (static files served by the gateway itself, no CDN)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request

bp = Blueprint("page", __name__)

# The page calls only its own origin; a strict policy keeps a pasted token from leaving it, and keeps any
# other site from framing it. Scripts come from files only: no inline script, no eval.
PAGE_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; "
                                "form-action 'self'; frame-ancestors 'none'"),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
# Every way to reach the page's files: `/` (whose HEAD is Claude Code's probe) and Flask's own
# `/static/<path>`, which serves index.html too.
PAGE_ENDPOINTS = {"page.index", "messages.probe", "static"}


@bp.get("/")
def index():
    """Serve the page; its script asks the API for everything it shows."""
    return current_app.send_static_file("index.html")


@bp.after_app_request
def guard_page_files(response: Response) -> Response:
    """Give every response of the page's routes the page's headers, so no path to it goes without them."""
    if request.endpoint in PAGE_ENDPOINTS:
        response.headers.update(PAGE_HEADERS)
    return response

"""`GET /`: the page a person opens after deploying (static files served by the gateway itself, no CDN)."""

from __future__ import annotations

from flask import Blueprint, current_app

bp = Blueprint("page", __name__)


@bp.get("/")
def index():
    """Serve the page; its script asks the API for everything it shows."""
    response = current_app.send_static_file("index.html")
    # The page calls only its own origin; a strict policy keeps a pasted token from leaving it.
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'")
    response.headers["Cache-Control"] = "no-cache"
    return response

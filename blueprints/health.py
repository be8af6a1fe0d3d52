"""`GET /ping` (the original's health check) and `GET /healthz` (for platforms)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

bp = Blueprint("health", __name__)


@bp.get("/ping")
def ping():
    """Answer `pong`."""
    return "pong", 200, {"Content-Type": "text/plain; charset=utf-8"}


@bp.get("/healthz")
def healthz():
    """Report liveness and what this worker serves."""
    gateway = current_app.extensions["freeseek"]
    return jsonify({"status": "ok", "providers": gateway.registry.names(),
                    "server_tokens": bool(gateway.settings.tokens)})

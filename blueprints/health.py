"""`GET /ping` (the original's health check), `GET /healthz` (for platforms) and `GET /openapi.json`."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from services.openapi import describe

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


@bp.get("/openapi.json")
def openapi():
    """Describe the gateway's routes in OpenAPI 3.1."""
    return jsonify(describe())

"""`GET /v1/models` (also `/models`, blueprints/paths.py)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

bp = Blueprint("models", __name__)


@bp.get("/v1/models")
def list_models():
    """List every model name the gateway answers to."""
    gateway = current_app.extensions["freeseek"]
    created = gateway.started_at
    return jsonify({"object": "list", "data": [
        {"id": name, "object": "model", "created": created, "owned_by": owner}
        for name, owner in gateway.registry.model_names()]})

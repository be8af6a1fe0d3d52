"""`POST /token/check` and `GET /pool`."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from blueprints.schemas import TokenCheckSchema, load_body

bp = Blueprint("tokens", __name__)
_schema = TokenCheckSchema()


@bp.post("/token/check")
def check_token():
    """Say whether a token is live, asking its own upstream."""
    body = load_body(_schema)
    return jsonify(current_app.extensions["freeseek"].token_checker.check(body["token"]))


@bp.get("/pool")
def pool():
    """Show token health: the server's tokens to a holder of an API key, else the caller's own tokens."""
    gateway = current_app.extensions["freeseek"]
    return jsonify({"server_tokens": bool(gateway.server_tokens),
                    "tokens": gateway.pool_for(request.headers.get("Authorization"))})

"""`POST /token/check`."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from blueprints.schemas import TokenCheckSchema, load_body

bp = Blueprint("tokens", __name__)
_schema = TokenCheckSchema()


@bp.post("/token/check")
def check_token():
    """Say whether a token is live, asking its own upstream."""
    body = load_body(_schema)
    return jsonify(current_app.extensions["freeseek"].token_checker.check(body["token"]))

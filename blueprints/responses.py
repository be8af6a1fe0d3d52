"""`POST /v1/responses`: the OpenAI Responses dialect, for Codex CLI and the Agents SDK (errors in OpenAI's shape)."""

from __future__ import annotations

from flask import Blueprint, current_app, request

from blueprints.agent_schemas import ResponsesSchema
from blueprints.chat import client_probe, to_response
from blueprints.schemas import load_body
from services.credentials import caller_ref

bp = Blueprint("responses", __name__)
_schema = ResponsesSchema()


@bp.post("/v1/responses")
def responses():
    """Answer a Responses request, streamed or whole."""
    gateway = current_app.extensions["freeseek"]
    authorization = request.headers.get("Authorization")
    tokens = gateway.completions.tokens_for(authorization)   # before the body reads any stored response
    body = load_body(_schema)
    call, renderer = gateway.responses.prepare(body, caller_ref(authorization))
    reply = gateway.completions.complete(call, renderer, tokens, client_probe(request.environ))
    return to_response(reply)

"""`POST /v1/responses`: the OpenAI Responses dialect, for Codex CLI and the Agents SDK (errors in OpenAI's shape)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from blueprints.agent_schemas import ResponsesSchema
from blueprints.chat import client_probe
from blueprints.schemas import load_body

bp = Blueprint("responses", __name__)
_schema = ResponsesSchema()


@bp.post("/v1/responses")
def responses():
    """Answer a Responses request, streamed or whole."""
    body = load_body(_schema)
    gateway = current_app.extensions["freeseek"]
    call, renderer = gateway.responses.prepare(body)
    tokens = gateway.completions.tokens_for(request.headers.get("Authorization"))
    reply = gateway.completions.complete(call, renderer, tokens, client_probe(request.environ))
    return Response(reply.body, status=reply.status, mimetype=reply.mimetype, headers=reply.headers)

"""`POST /v1/messages` and `POST /v1/messages/count_tokens`: the Anthropic Messages dialect, for Claude Code."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from blueprints.agent_schemas import AnthropicMessagesSchema, CountTokensSchema
from blueprints.chat import client_probe, to_response
from blueprints.schemas import load_body

bp = Blueprint("messages", __name__)
_schema, _count_schema = AnthropicMessagesSchema(), CountTokensSchema()


def _tokens(completions):
    """The request's tokens from either auth header."""
    # Claude Code sends `Authorization: Bearer` for ANTHROPIC_AUTH_TOKEN and `x-api-key` for ANTHROPIC_API_KEY.
    return completions.tokens_for(request.headers.get("Authorization"), request.headers.get("x-api-key"))


@bp.post("/v1/messages")
def messages():
    """Answer a Messages request, streamed or whole (query strings such as `?beta=true` are ignored)."""
    gateway = current_app.extensions["freeseek"]
    tokens = _tokens(gateway.completions)
    call, renderer = gateway.anthropic.prepare(load_body(_schema))
    reply = gateway.completions.complete(call, renderer, tokens, client_probe(request.environ))
    return to_response(reply)


@bp.post("/v1/messages/count_tokens")
def count_tokens():
    """Count a Messages request's input tokens with DeepSeek's tokenizer."""
    gateway = current_app.extensions["freeseek"]
    _tokens(gateway.completions)
    return jsonify(gateway.anthropic.count_tokens(load_body(_count_schema)))


@bp.route("/", methods=["HEAD"])
@bp.route("/v1", methods=["HEAD"])
def probe():
    """Claude Code checks its base URL with a HEAD when it starts (`/`, or `/v1` when the URL ends so)."""
    return Response(status=200)

"""App-wide error handlers: every failure leaves with the right status, in its route's dialect (OpenAI's by default)."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from services.dialects.anthropic_messages import MessagesRenderer
from services.errors import GatewayError, detach, error_for_status

bp = Blueprint("errors", __name__)
log = logging.getLogger("freeseek")

_MESSAGES = {
    404: "Unknown route. The gateway serves POST /v1/chat/completions, POST /v1/messages, POST /v1/responses, "
         "GET /v1/models (each also without /v1, or with it twice, so a base URL with or without /v1 works), "
         "POST /token/check, GET /pool, GET / (a page), GET /metrics, GET /ping, GET /healthz and "
         "GET /openapi.json.",
    405: "This route does not accept that HTTP method.",
}


def _too_large() -> str:
    """Say what the body limit is, so a client knows how far to cut."""
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    return (f"The request body is larger than this gateway's limit of {limit:,} bytes ({limit / 1048576:g} MiB, "
            "FREESEEK_MAX_BODY_BYTES).")


def error_response(error: GatewayError):
    """Render a gateway error as a Flask response, in Anthropic's shape anywhere under /v1/messages."""
    # By path, not by blueprint: an unknown route or a wrong method under /v1/messages matches no blueprint,
    # and Anthropic's clients must still read the error.
    anthropic = request.path == "/v1/messages" or request.path.startswith("/v1/messages/")
    response = jsonify(MessagesRenderer.error_body(error) if anthropic else error.body())
    response.status_code = error.status
    response.headers.update(error.headers())
    return response


@bp.app_errorhandler(GatewayError)
def gateway_error(error: GatewayError):
    """Our own errors already know their status and shape."""
    return error_response(detach(error))  # the request's frames go with the response, not with a cycle


@bp.app_errorhandler(HTTPException)
def http_error(error: HTTPException):
    """Werkzeug's errors (404, 405, 413, ...) as our errors."""
    status = error.code or 500
    message = _too_large() if status == 413 else _MESSAGES.get(status, error.description or error.name)
    gateway = error_for_status(status, message)
    response = error_response(gateway)
    if status == 405 and getattr(error, "valid_methods", None):
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


@bp.app_errorhandler(Exception)
def unexpected_error(error: Exception):
    """A bug of ours: log the traceback, tell the client without details."""
    log.exception("unhandled error")
    detach(error)
    return error_response(GatewayError("The gateway failed while handling this request.", code="internal_error"))

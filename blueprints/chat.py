"""`POST /v1/chat/completions` (and `/chat/completions`)."""

from __future__ import annotations

import select
import socket
from typing import Callable

from flask import Blueprint, Response, current_app, request

from blueprints.schemas import ChatRequestSchema, load_body

bp = Blueprint("chat", __name__)
_schema = ChatRequestSchema()


@bp.post("/v1/chat/completions")
@bp.post("/chat/completions")
def chat_completions():
    """Answer a chat completion, streamed or whole."""
    body = load_body(_schema)
    reply = current_app.extensions["freeseek"].chat.complete(
        body, request.headers.get("Authorization"), client_gone=client_probe(request.environ))
    return Response(reply.body, status=reply.status, mimetype=reply.mimetype, headers=reply.headers)


def client_probe(environ: dict) -> Callable[[], bool]:
    """A check that the client closed its connection, so a silent upstream wait can be cancelled."""
    sock = environ.get("gunicorn.socket")
    if sock is None:
        return lambda: False

    def gone() -> bool:
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            # Readable with nothing to read means the peer closed; a pipelined request is data.
            return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True
    return gone

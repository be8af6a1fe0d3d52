"""`POST /v1/chat/completions` (also `/chat/completions`, blueprints/paths.py)."""

from __future__ import annotations

import socket
from typing import Callable

from flask import Blueprint, Response, current_app, request

from blueprints.schemas import ChatRequestSchema, load_body
from services.completions import Reply
from services.dialects import openai_chat

bp = Blueprint("chat", __name__)
_schema = ChatRequestSchema()


@bp.post("/v1/chat/completions")
def chat_completions():
    """Answer a chat completion, streamed or whole."""
    body = load_body(_schema)
    completions = current_app.extensions["freeseek"].completions
    call = openai_chat.parse(body)
    tokens = completions.tokens_for(request.headers.get("Authorization"))
    reply = completions.complete(call, openai_chat.ChatRenderer(call), tokens, client_probe(request.environ))
    return to_response(reply)


def to_response(reply: Reply) -> Response:
    """The HTTP response for a reply; a streamed body goes to the server as it is, without werkzeug's two
    wrapping iterators (two levels less on the stack of every open stream, and per chunk sent)."""
    return Response(reply.body, status=reply.status, mimetype=reply.mimetype, headers=reply.headers,
                    direct_passthrough=not isinstance(reply.body, bytes))


def client_probe(environ: dict) -> Callable[[], bool]:
    """A check that the client closed its connection, so a silent upstream wait can be cancelled."""
    sock = environ.get("gunicorn.socket")
    return (lambda: False) if sock is None else (lambda: connection_closed(sock))


def connection_closed(sock: socket.socket) -> bool:
    """Peek without blocking: end-of-stream means the peer closed; data (a pipelined request) or nothing
    to read means it is still there. (select() is not used: it fails for descriptors above 1023.)"""
    timeout = sock.gettimeout()
    try:
        sock.settimeout(0)
        return sock.recv(1, socket.MSG_PEEK) == b""
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True
    finally:
        sock.settimeout(timeout)

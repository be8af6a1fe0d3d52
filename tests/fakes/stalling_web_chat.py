"""The fake web chat, except that completion calls for chosen tokens never get their headers."""

from __future__ import annotations

import socket
import threading

from tests.fakes.deepseek_web import FakeWebChat

COMPLETION = "/api/v0/chat/completion"


class StallingWebChat(FakeWebChat):
    """Sessions and challenges as usual; a completion for a token in `stall_tokens` waits for the hang-up."""

    def __init__(self) -> None:
        self.stall_tokens: set[str] = set()
        self.completion_received = threading.Event()
        self.completion_hung_up = threading.Event()
        super().__init__()

    def _wsgi(self, environ, start_response):
        token = environ.get("HTTP_AUTHORIZATION", "").removeprefix("Bearer ")
        if environ.get("PATH_INFO") == COMPLETION and token in self.stall_tokens:
            # Read the body first, so that peeking afterwards sees only the hang-up.
            environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            self.completion_received.set()
            self._hold(environ["werkzeug.socket"])
            start_response("200 OK", [("Content-Type", "text/event-stream"), ("Connection", "close")])
            return []
        return super()._wsgi(environ, start_response)

    def _hold(self, sock: socket.socket) -> None:
        """Send nothing until the client closes the connection."""
        timeout = sock.gettimeout()
        sock.settimeout(0.05)
        for _ in range(1200):  # bounded: at most a minute
            try:
                if sock.recv(1, socket.MSG_PEEK) == b"":
                    break
            except socket.timeout:
                continue
            except OSError:
                break
        sock.settimeout(timeout)
        self.completion_hung_up.set()

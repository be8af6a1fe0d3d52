"""The gunicorn worker class: gevent's, closing a refused request so the client can read why (docs/serving.md)."""

from __future__ import annotations

import socket
import time

from gunicorn.http.errors import ParseException
from gunicorn.workers.ggevent import GeventWorker

# How long, and how much, of a refused request's rest is read and thrown away before the connection closes.
LINGER_SECONDS = 5.0
LINGER_BYTES = 32 * 1024 * 1024


class LingeringGeventWorker(GeventWorker):
    """gunicorn's gevent worker, with a lingering close after the errors gunicorn answers itself (431, 414, 400)."""

    def handle_error(self, req, client, addr, exc):
        """Answer as gunicorn does, then let a client that is still sending finish before the close."""
        super().handle_error(req, client, addr, exc)
        if isinstance(exc, ParseException):
            linger(client, LINGER_SECONDS, LINGER_BYTES)


def linger(sock: socket.socket, seconds: float, limit: int) -> None:
    """Read and discard what the client still sends, until it stops, a deadline or a byte budget: closing a
    socket with unread data makes the kernel reset the connection, and a client still sending its request
    (a header over the limit, then a 4 MB body) then sees the reset, never the answer already written."""
    try:
        sock.shutdown(socket.SHUT_WR)   # the answer is complete: the client sees its end after it
    except OSError:
        return
    deadline = time.monotonic() + seconds
    read = 0
    try:
        while read < limit:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            sock.settimeout(left)
            data = sock.recv(65536)
            if not data:
                return
            read += len(data)
    except OSError:   # a timeout, or the client reset first: either way there is nothing more to do
        return

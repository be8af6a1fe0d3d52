"""A kept-alive upstream connection is reused while it stands, and replaced once the upstream dropped it."""

from __future__ import annotations

import socket
import threading

import pytest
import requests

from services.abortable import AbortableHTTPAdapter
from tests.fakes.faulty_upstream import read_request

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


class KeepAliveServer:
    """Answers every request on a connection; after `close_after` answers it hangs up without saying so."""

    def __init__(self, close_after: int):
        self.close_after, self.connections = close_after, 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/"
        self.hung_up = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                for _ in range(self.close_after):
                    if read_request(conn) is None:
                        break
                    conn.sendall(ANSWER)
            self.hung_up.set()


@pytest.fixture
def session():
    with requests.Session() as s:
        s.mount("http://", AbortableHTTPAdapter())
        yield s


def test_a_standing_connection_carries_every_request(session):
    server = KeepAliveServer(close_after=3)
    assert [session.get(server.url, timeout=5).text for _ in range(3)] == ["ok"] * 3
    assert server.connections == 1


def test_a_connection_the_upstream_dropped_is_replaced_not_reused(session):
    server = KeepAliveServer(close_after=1)
    assert session.get(server.url, timeout=5).text == "ok"
    assert server.hung_up.wait(5)
    # The pool holds a connection whose peer is gone; sending on it would fail (no retries are configured).
    assert session.get(server.url, timeout=5).text == "ok"
    assert server.connections == 2

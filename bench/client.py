"""A small HTTP/1.1 client on (gevent) sockets: keep-alive, Content-Length and chunked bodies, timestamps."""

from __future__ import annotations

import gc
import json
import re
import socket
import time

_CONTENT_TS = re.compile(rb'"content":"(\d+\.\d+) ')


def quiet_collector() -> None:
    """Keep the cyclic collector of a measuring process (the load client, the fake upstream) from full passes
    (100-170 ms with 5,000 streams open), as the gateway does, so they are not counted as delay added by a
    contestant; young passes stay small for the same reason (docs/serving.md)."""
    gc.freeze()
    gc.set_threshold(700, 10, 10_000)


class HttpError(Exception):
    """A response that was not a complete 200."""


class Connection:
    """One keep-alive connection to host:port."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 120):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()

    def post(self, path: str, body: dict, token: str) -> None:
        """Send a JSON POST."""
        data = json.dumps(body).encode()
        head = (f"POST {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n").encode()
        self.sock.sendall(head + data)

    def get(self, path: str) -> bytes:
        """Send a GET and read its whole answer."""
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
        return b"".join(self.pieces())

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise HttpError("connection closed")
        self.buffer += data

    def _line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            self._fill()
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def _exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def head(self) -> tuple[int, dict[str, str]]:
        """Read a response's status code and headers (names in lower case)."""
        status = self._line()
        headers = {}
        while True:
            line = self._line()
            if not line:
                break
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        parts = status.split(b" ", 2)
        return (int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0), headers

    def pieces(self):
        """Read one response; yield its body pieces as they arrive (status and headers checked first)."""
        status, headers = self.head()
        if status != 200:
            raise HttpError(f"HTTP {status}")
        yield from self.body(headers)

    def body(self, headers: dict[str, str]):
        """Yield a response's body pieces as they arrive, once its head is read."""
        if "content-length" in headers:
            yield self._exactly(int(headers["content-length"]))
            return
        if headers.get("transfer-encoding") != "chunked":
            raise HttpError("neither Content-Length nor chunked")
        while True:
            size = int(self._line().split(b";")[0], 16)
            if size == 0:
                self._line()
                return
            yield self._exactly(size)
            self._exactly(2)


def timed_request(conn: Connection, path: str, body: dict, token: str) -> float:
    """Send one request and read the whole response; seconds to its last byte."""
    start = time.perf_counter()
    conn.post(path, body, token)
    received = b"".join(conn.pieces())
    if body.get("stream") and not received.rstrip().endswith(b"data: [DONE]"):
        raise HttpError("stream did not finish")
    return time.perf_counter() - start


def chunk_delays(conn: Connection, path: str, body: dict, token: str) -> tuple[list[tuple[float, float]], bool]:
    """Stream one answer; per content chunk, (when the upstream sent it, how long it took to reach us)."""
    conn.post(path, body, token)
    delays, last = [], b""
    for piece in conn.pieces():  # each HTTP chunk holds whole SSE events, from the upstream and the gateway
        now = time.time()
        delays += [(float(m.group(1)), now - float(m.group(1))) for m in _CONTENT_TS.finditer(piece)]
        last = piece
    return delays, last.rstrip().endswith(b"data: [DONE]")

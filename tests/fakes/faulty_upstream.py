"""A fault-injection upstream: a raw TCP server on loopback that misbehaves as scripted per bearer token.

Speaks just enough HTTP/1.1 (one request per connection, `Connection: close`) to fail in the ways real
upstreams do: reset before headers, stall before or after headers, drip bytes, malformed SSE, 429 storms,
an HTML page with 200, gzip, a 5 MB line. It records when each request arrived and when its client hung up,
so tests can wait on those events instead of sleeping.
"""

from __future__ import annotations

import gzip
import json
import socket
import struct
import threading
import time
from dataclasses import dataclass

MODES = ("ok", "reset", "stall_headers", "stall_body", "drip", "malformed_sse", "storm_429", "html_200", "gzip",
         "huge_line")


@dataclass
class Fault:
    """How the fake answers requests that carry one token."""

    mode: str = "ok"
    interval: float = 0.01     # drip: seconds between bytes
    count: int = 3             # storm_429: how many 429s before it answers
    retry_after: float = 1.0   # storm_429: the Retry-After it sends
    text: str = "fine"


class FaultyUpstream:
    """`with FaultyUpstream() as up:`; `up.url` is an OpenAI-style base URL, `up.root` the bare origin."""

    def __init__(self) -> None:
        self.faults: dict[str, Fault] = {}
        self.received: dict[str, threading.Event] = {}   # a request with this token arrived
        self.hung_up: dict[str, threading.Event] = {}    # its client closed while the fake stalled
        self.served: list[tuple[str, str]] = []          # (token, last user message) of each answer, in order
        self.open_connections = 0
        self._lock = threading.Lock()
        self._local = threading.local()
        self._stopping = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port = self._listener.getsockname()[1]
        self.root = f"http://127.0.0.1:{self.port}"
        self.url = self.root + "/v1"
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def fault(self, token: str, mode: str, **options) -> str:
        """Script requests made with `token`; returns the token."""
        assert mode in MODES, mode
        self.faults[token] = Fault(mode, **options)
        self.received[token] = threading.Event()
        self.hung_up[token] = threading.Event()
        return token

    def __enter__(self) -> "FaultyUpstream":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stopping.set()
        self._thread.join(5)
        self._listener.close()

    # ---- the server --------------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except (socket.timeout, OSError):
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with self._lock:
            self.open_connections += 1
        try:
            token = self._read_request(conn)
            if token is None:
                return
            fault = self.faults.get(token, Fault())
            self.received.setdefault(token, threading.Event()).set()
            getattr(self, "_" + fault.mode)(conn, token, fault)
        except OSError:
            pass  # the gateway hung up first: that is what several modes provoke
        finally:
            with self._lock:
                self.open_connections -= 1
            conn.close()

    def _read_request(self, conn: socket.socket) -> str | None:
        """Read one request's head and body; return its bearer token."""
        conn.settimeout(10)
        request = read_request(conn)
        if request is None:
            return None
        headers, body = request
        try:
            self._local.prompt = str(json.loads(body)["messages"][-1]["content"])
        except (ValueError, KeyError, IndexError, TypeError):
            self._local.prompt = ""
        return headers.get("authorization", "").removeprefix("Bearer ")

    def _wait_for_hangup(self, conn: socket.socket, token: str) -> None:
        """Hold the connection, sending nothing, until the client closes it (or the fake stops)."""
        conn.settimeout(0.05)
        while not self._stopping.is_set():
            try:
                if conn.recv(65536) == b"":
                    self.hung_up[token].set()
                    return
            except socket.timeout:
                continue
            except OSError:
                self.hung_up[token].set()
                return

    def _answer(self, token: str, fault: Fault, content: str | None = None) -> bytes:
        chunks = [{"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]},
                  {"choices": [{"index": 0, "delta": {"content": fault.text if content is None else content}}]},
                  {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}]
        return b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"

    def _send(self, conn, token: str, body: bytes, status: str = "200 OK", content_type: str = "text/event-stream",
              extra: str = "") -> None:
        head = (f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n{extra}"
                "Connection: close\r\n\r\n").encode()
        # Recorded before sending: once the answer is out, the gateway may finish it and send the next request
        # (answered by another thread) before this one would get to record it.
        with self._lock:
            self.served.append((token, self._local.prompt))
        conn.sendall(head + body)

    # ---- the modes ---------------------------------------------------------------------------------

    def _ok(self, conn, token, fault) -> None:
        self._send(conn, token, self._answer(token, fault))

    def _reset(self, conn, token, fault) -> None:
        # SO_LINGER with a zero timeout turns close() into a TCP reset.
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def _stall_headers(self, conn, token, fault) -> None:
        self._wait_for_hangup(conn, token)

    def _stall_body(self, conn, token, fault) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
                     b": upstream keep-alive\n\n")
        self._wait_for_hangup(conn, token)

    def _drip(self, conn, token, fault) -> None:
        body = self._answer(token, fault)
        data = (f"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n").encode() + body
        for i in range(len(data)):
            if self._stopping.wait(fault.interval):
                return
            conn.sendall(data[i:i + 1])
        with self._lock:
            self.served.append((token, self._local.prompt))

    def _malformed_sse(self, conn, token, fault) -> None:
        self._send(conn, token, b"data: {\"choices\": [{\"delta\": \n\ndata: {not json at all}\n\nevent\n\n")

    def _storm_429(self, conn, token, fault) -> None:
        if fault.count > 0:
            fault.count -= 1
            body = json.dumps({"error": {"message": "Rate limit reached, slow down", "type": "rate_limit"}}).encode()
            head = (f"HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nRetry-After: "
                    f"{fault.retry_after:g}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
            conn.sendall(head + body)
            return
        self._ok(conn, token, fault)

    def _html_200(self, conn, token, fault) -> None:
        self._send(conn, token, b"<html><body><h1>Welcome to nginx!</h1></body></html>\n", content_type="text/html")

    def _gzip(self, conn, token, fault) -> None:
        self._send(conn, token, gzip.compress(self._answer(token, fault)), extra="Content-Encoding: gzip\r\n")

    def _huge_line(self, conn, token, fault) -> None:
        self._send(conn, token, self._answer(token, fault, content="x" * (5 * 1024 * 1024)))


def wait_until(predicate, timeout: float = 10.0) -> bool:
    """Poll a condition that no event announces (a count in /proc), up to a deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def read_request(conn: socket.socket) -> tuple[dict[str, str], bytes] | None:
    """Read one HTTP/1.1 request from a socket: its headers (lower-case names) and its body; None at the end."""
    data = b""
    while b"\r\n\r\n" not in data:
        piece = conn.recv(65536)
        if not piece:
            return None
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    headers = {}
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length") or 0)
    while len(body) < length:
        piece = conn.recv(65536)
        if not piece:
            return None
        body += piece
    return headers, body

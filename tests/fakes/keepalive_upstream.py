"""A minimal OpenAI-style upstream that keeps connections alive (werkzeug's dev server always closes them),
recording the client port of each request so tests can see connections being reused."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802 - the http.server naming
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.client_ports.append(self.client_address[1])
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for delta, finish in (({"content": "ok"}, None), ({}, "stop")):
            event = "data: " + json.dumps({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}) + "\n\n"
            self._chunk(event.encode())
        self._chunk(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def log_message(self, *args):
        pass


class KeepAliveUpstream:
    """`with KeepAliveUpstream() as up:`; `up.url` is its base URL, `up.client_ports` who asked."""

    def __init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.client_ports = []
        self.client_ports = self._server.client_ports
        self.url = f"http://127.0.0.1:{self._server.server_port}/v1"

    def __enter__(self) -> "KeepAliveUpstream":
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

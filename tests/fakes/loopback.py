"""A WSGI app served by a real HTTP/1.1 server on a free loopback port, in a thread."""

from __future__ import annotations

import threading

from werkzeug.serving import make_server


class LoopbackServer:
    """Serve `self._wsgi` while inside `with`; `port` and `root` say where."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._server = make_server(host, 0, self._wsgi, threaded=True)
        self.port = self._server.server_port
        self.root = f"http://{host}:{self.port}"
        # A short poll interval makes shutdown (each test's teardown) quick.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _wsgi(self, environ, start_response):
        raise NotImplementedError

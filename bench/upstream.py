"""A fast fake OpenAI upstream for benchmarks: gevent's WSGI server and no framework, so it is never the
bottleneck. The last user message sets the answer's shape: "chunks=N pace=S" (N content chunks, S seconds
apart). Every streamed chunk's content starts with the time it was sent, so a client can measure the
delay each chunk picked up on its way."""

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import re  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402

from bench.client import quiet_collector  # noqa: E402

_KNOBS = re.compile(r"chunks=(\d+)\s+pace=([\d.]+)")
_BASE = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1, "model": "bench"}


def _knobs(body: dict) -> tuple[int, float]:
    text = str((body.get("messages") or [{}])[-1].get("content", ""))
    match = _KNOBS.search(text)
    return (int(match.group(1)), float(match.group(2))) if match else (20, 0.0)


def _chunk(delta: dict, finish=None) -> bytes:
    return b"data: " + json.dumps({**_BASE, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]},
                                  separators=(",", ":")).encode() + b"\n\n"


def _stream(chunks: int, pace: float, include_usage: bool):
    yield _chunk({"role": "assistant", "content": ""})
    for _ in range(chunks):
        if pace:
            gevent.sleep(pace)
        yield _chunk({"content": f"{time.time():.6f} "})
    yield _chunk({}, "stop")
    if include_usage:
        usage = {"prompt_tokens": 10, "completion_tokens": chunks, "total_tokens": 10 + chunks}
        yield b"data: " + json.dumps({**_BASE, "choices": [], "usage": usage}).encode() + b"\n\n"
    yield b"data: [DONE]\n\n"


def app(environ, start_response):
    """Answer any POST as a chat completion, streamed or whole."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = json.loads(environ["wsgi.input"].read(length) or b"{}")
    chunks, pace = _knobs(body)
    if body.get("stream"):
        start_response("200 OK", [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")])
        return _stream(chunks, pace, bool((body.get("stream_options") or {}).get("include_usage")))
    answer = {"id": "chatcmpl-bench", "object": "chat.completion", "created": 1, "model": "bench",
              "choices": [{"index": 0, "message": {"role": "assistant", "content": "word " * chunks},
                           "finish_reason": "stop"}],
              "usage": {"prompt_tokens": 10, "completion_tokens": chunks, "total_tokens": 10 + chunks}}
    data = json.dumps(answer).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


class FastServer(WSGIServer):
    """gevent's WSGI server with Nagle off, as gunicorn and urllib3 have it: headers and body go out
    in separate writes, and Nagle plus delayed ACKs would hold each answer back for ~40 ms."""

    def handle(self, sock, address):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().handle(sock, address)


if __name__ == "__main__":
    quiet_collector()
    FastServer(("127.0.0.1", int(sys.argv[1])), app, log=None, backlog=8192).serve_forever()

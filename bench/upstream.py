"""A fast fake OpenAI upstream for benchmarks: gevent's WSGI server and no framework, so it is never the
bottleneck. The last user message sets the answer's shape: "chunks=N pace=S" (N content chunks, S seconds
apart). Every streamed chunk's content starts with the time it was sent, so a client can measure the
delay each chunk picked up on its way. A request with tools is answered with a call of the first one. A key
"fail-<how>-..." fails as asked: "reset" (the connection dropped after the first piece), "5xx" (HTTP 500, 502
or 503 by turns) or "inband" (200, then an error object: a stream's event, or the whole body)."""

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


def _tool_call(body: dict) -> dict:
    """A call of the request's first tool, with empty arguments."""
    name = (body["tools"][0].get("function") or {}).get("name", "tool")
    return {"index": 0, "id": "call_bench", "type": "function", "function": {"name": name, "arguments": "{}"}}


def _call_stream(body: dict):
    yield _chunk({"role": "assistant", "content": None, "tool_calls": [_tool_call(body)]})
    yield _chunk({}, "tool_calls")
    yield b"data: [DONE]\n\n"


def _dropped(first: bytes):
    """Send the first piece, then drop the connection (gevent's server closes it when the body fails)."""
    yield first
    raise ConnectionAbortedError("bench upstream: a failure asked for by the key")


_FAILED = {"500": "500 Internal Server Error", "502": "502 Bad Gateway", "503": "503 Service Unavailable"}
_turn = [0]


def _fail(how: str, body: dict, start_response):
    """Fail the way the key asked."""
    error = {"error": {"message": "bench upstream: a failure asked for by the key", "type": "server_error"}}
    if how == "5xx":
        _turn[0] += 1
        data = json.dumps(error).encode()
        start_response(list(_FAILED.values())[_turn[0] % 3], [("Content-Type", "application/json"),
                                                             ("Content-Length", str(len(data)))])
        return [data]
    if how == "reset":
        if body.get("stream"):
            start_response("200 OK", [("Content-Type", "text/event-stream")])
            return _dropped(_chunk({"role": "assistant", "content": "cut "}))
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "1000")])
        return _dropped(b'{"id": "chatcmpl-bench", ')
    if body.get("stream"):
        start_response("200 OK", [("Content-Type", "text/event-stream")])
        return [_chunk({"role": "assistant", "content": "part "}), b"data: " + json.dumps(error).encode() + b"\n\n"]
    data = json.dumps(error).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def app(environ, start_response):
    """Answer any POST as a chat completion, streamed or whole."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = json.loads(environ["wsgi.input"].read(length) or b"{}")
    key = environ.get("HTTP_AUTHORIZATION", "").removeprefix("Bearer ")
    if key.startswith("fail-"):
        return _fail(key.split("-")[1], body, start_response)
    chunks, pace = _knobs(body)
    if body.get("tools") and body.get("stream"):
        start_response("200 OK", [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")])
        return _call_stream(body)
    if body.get("stream"):
        start_response("200 OK", [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")])
        return _stream(chunks, pace, bool((body.get("stream_options") or {}).get("include_usage")))
    message = {"role": "assistant", "content": "word " * chunks}
    if body.get("tools"):
        call = _tool_call(body)
        call.pop("index")
        message = {"role": "assistant", "content": None, "tool_calls": [call]}
    answer = {"id": "chatcmpl-bench", "object": "chat.completion", "created": 1, "model": "bench",
              "choices": [{"index": 0, "message": message,
                           "finish_reason": "tool_calls" if body.get("tools") else "stop"}],
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

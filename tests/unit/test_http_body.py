"""Reading an upstream body on the request's own greenlet: the framing however the bytes are split, wake-ups
while the upstream is silent, and the connection handed back for the next request."""

from __future__ import annotations

import gzip
import http.client
import socket
import threading
import time

import pytest
import requests

from services.providers.http_body import READ_ERRORS, HttpBody, _Chunked
from services.providers.http_send import JsonPoster
from tests.fakes.faulty_upstream import read_request

SSE = b"data: {\"choices\":[{\"delta\":{\"content\":\"h\xc3\xa9llo\"}}]}\n\ndata: [DONE]\n\n"


def chunked(body: bytes, size: int = 7, plain: bool = False) -> bytes:
    """Chunked transfer coding with an extension on every chunk and a trailer at the end, or (plain) with
    neither, as most servers send it."""
    ext, trailer = (b"", b"") if plain else (b";ext=1", b"X-Trailer: yes\r\n")
    parts = [b"%x%s\r\n%s\r\n" % (len(body[i:i + size]), ext, body[i:i + size]) for i in range(0, len(body), size)]
    return b"".join(parts) + b"0\r\n" + trailer + b"\r\n"


class RawUpstream:
    """A loopback HTTP/1.1 server that answers each request with the next scripted list of writes; a write
    that is a threading.Event is waited for instead of sent."""

    def __init__(self, *answers: list) -> None:
        self.answers, self.connections = list(answers), 0
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}/v1/chat/completions"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while self.answers:
            conn, _ = self.server.accept()
            self.connections += 1
            with conn:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                while self.answers and read_request(conn) is not None:
                    for write in self.answers.pop(0):
                        if isinstance(write, threading.Event):
                            write.wait(10)
                        else:
                            conn.sendall(write)

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def session():
    """A session closed after the test: a pooled connection left to the garbage collector warns, and warnings
    fail the suite in whichever test happens to run then."""
    with requests.Session() as s:
        yield s


def post(session: requests.Session, upstream: RawUpstream) -> HttpBody:
    session.trust_env = False  # as the gateway's session is without proxy variables: JsonPoster's own path
    return HttpBody(JsonPoster(session, upstream.url).post(b"{}", {}, (5, 5)))


def head(extra: bytes = b"Transfer-Encoding: chunked\r\n") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n" + extra + b"\r\n"


def read(body: HttpBody, idle=lambda: 5.0) -> bytes:
    return b"".join(body.chunks(idle))


@pytest.mark.parametrize("plain", [False, True])
@pytest.mark.parametrize("size", [1, 3, 7, 64])
def test_a_chunked_body_decodes_the_same_however_its_bytes_are_split(size, plain):
    wire = chunked(SSE, size, plain)
    for split in range(len(wire) + 1):
        framing = _Chunked()
        out = framing.feed(wire[:split]) + framing.feed(wire[split:])
        assert out == SSE and framing.done, split
    framing = _Chunked()
    assert b"".join(framing.feed(wire[i:i + 1]) for i in range(len(wire))) == SSE and framing.done


@pytest.mark.parametrize("wire", [b"5\r\nhelloXX0\r\n\r\n", b"5\r\nhello\r\n-1\r\n\r\n",
                                  b"5\r\nhello\r\n0x0\r\n\r\n"])
def test_a_chunk_not_followed_by_crlf_or_a_size_that_is_not_hex_is_malformed(wire):
    with pytest.raises(http.client.IncompleteRead):
        _Chunked().feed(wire)


def test_chunked_and_sized_bodies_are_read_whole_and_the_connection_carries_the_next_request(session):
    one_byte_writes = [bytes([b]) for b in chunked(SSE, 5)]
    upstream = RawUpstream([head(), *one_byte_writes],
                           [head(b"Content-Length: %d\r\n" % len(SSE)), SSE],
                           [head(), chunked(SSE)])
    try:
        first = post(session, upstream)
        assert first.can_wake
        assert read(first) == SSE
        assert read(post(session, upstream)) == SSE
        assert read(post(session, upstream)) == SSE
        assert upstream.connections == 1
    finally:
        upstream.close()


def test_an_answer_that_ends_with_the_connection_is_read_to_the_close(session):
    upstream = RawUpstream([head(b"Connection: close\r\n"), SSE[:20], SSE[20:]])
    try:
        assert read(post(session, upstream)) == SSE
    finally:
        upstream.close()


def test_a_silent_upstream_wakes_the_reader_on_time_and_nothing_is_lost(session):
    resume = threading.Event()
    upstream = RawUpstream([head(), b"%x\r\n%s\r\n" % (30, SSE[:30]), resume,
                            b"%x\r\n%s\r\n0\r\n\r\n" % (len(SSE) - 30, SSE[30:])])
    try:
        pieces, wakes = [], []
        started = time.monotonic()
        for piece in post(session, upstream).chunks(lambda: 0.05):
            if piece:
                pieces.append(piece)
            else:
                wakes.append(time.monotonic() - started)
                if len(wakes) == 4:
                    resume.set()
        assert b"".join(pieces) == SSE
        assert len(wakes) >= 4 and wakes[3] < 2.0  # woken about every 0.05 s while the upstream said nothing
    finally:
        upstream.close()


def test_a_malformed_chunk_size_is_a_broken_read(session):
    upstream = RawUpstream([head(), b"zz\r\nhello\r\n0\r\n\r\n"])
    body = post(session, upstream)
    try:
        with pytest.raises(READ_ERRORS):
            read(body)
    finally:
        body.close()  # as the relay closes an answer that broke
        upstream.close()


def test_a_compressed_answer_is_read_through_urllib3_which_decodes_it(session):
    packed = gzip.compress(SSE)
    upstream = RawUpstream([head(b"Content-Encoding: gzip\r\nContent-Length: %d\r\n" % len(packed)), packed])
    try:
        body = post(session, upstream)
        assert not body.can_wake
        assert read(body) == SSE
    finally:
        upstream.close()


def test_an_incomplete_chunked_body_is_a_broken_read(session):
    upstream = RawUpstream([head(), b"a\r\nhello"])
    body = post(session, upstream)
    try:
        with pytest.raises(http.client.IncompleteRead):
            read(body)
    finally:
        body.close()
        upstream.close()

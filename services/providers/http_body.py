"""A streamed upstream HTTP body: read as it arrives, and abortable from another greenlet."""

from __future__ import annotations

import http.client
import re
import socket
import ssl
from typing import Callable, Iterator

import requests
import urllib3

READ_SIZE = 65536
# What a read of a streamed body raises when the connection breaks, times out or is shut down.
READ_ERRORS = (requests.RequestException, urllib3.exceptions.HTTPError, http.client.HTTPException, OSError)
_MAX_CHUNK_LINE = 4096  # a chunk-size line (with extensions) longer than this is not HTTP
_HEX_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
# The common chunk head, a bare hex size and CRLF, read in one match (anything else takes the line by line way).
_PLAIN_HEAD = re.compile(rb"([0-9A-Fa-f]{1,16})\r\n")


class HttpBody:
    """Wraps a `requests` response opened with stream=True."""

    __slots__ = ("response",)  # this and the framing below: one of each per open stream

    def __init__(self, response: requests.Response):
        self.response = response

    @property
    def can_wake(self) -> bool:
        """Whether `chunks(idle)` can read the socket itself, waking after silences: the body is not
        compressed (else urllib3 reads it, decoding, without wake-ups)."""
        head = getattr(self.response.raw, "_fp", None)
        return (isinstance(head, http.client.HTTPResponse) and hasattr(getattr(head.fp, "raw", None), "_sock")
                and self.response.headers.get("Content-Encoding", "identity").lower() == "identity")

    def chunks(self, idle: Callable[[], float] | None = None) -> Iterator[bytes]:
        """Yield bytes as soon as they arrive (chunked or not), decoded from gzip/deflate; with `idle` (and
        `can_wake`), also yield b"" before waiting for more and again after each `idle()` seconds of silence."""
        # Returned, not delegated to: a generator level less on the stack every parked stream keeps.
        return self._socket_chunks(idle) if idle is not None and self.can_wake else self._urllib3_chunks()

    def _urllib3_chunks(self) -> Iterator[bytes]:
        """Read through urllib3, which decodes gzip/deflate and sees the connection back into its pool."""
        raw = self.response.raw
        while True:
            data = raw.read1(READ_SIZE, decode_content=True)
            if not data:
                return  # urllib3 has put a fully read connection back in its pool
            yield data

    def _socket_chunks(self, idle: Callable[[], float]) -> Iterator[bytes]:
        """Read the body straight from the socket: one recv per arrival, none of urllib3's per-read work, and
        a timed wait, so one greenlet can both relay the stream and keep its deadlines and keep-alives."""
        raw = self.response.raw
        head: http.client.HTTPResponse = raw._fp
        sock = head.fp.raw._sock  # the response's own socket, whether or not its connection is kept
        keep = not head.will_close
        framing = _Chunked() if head.chunked else _Counted(head.length)
        timeout = sock.gettimeout()
        try:
            # What http.client read past the headers waits in its buffer: take it without blocking.
            sock.settimeout(0)
            while not framing.done:
                try:
                    data = head.fp.read1(READ_SIZE)
                except (ssl.SSLWantReadError, BlockingIOError):
                    data = b""
                if not data:
                    break
                body = framing.feed(data)
                if body:
                    yield body
            if keep:
                head.close()  # its buffer is empty now: free it (a few KiB of every open stream)
            while not framing.done:
                try:
                    data = sock.recv(READ_SIZE)
                except (BlockingIOError, ssl.SSLWantReadError):
                    # The wait is below, outside this handler: inside it, the exception and its traceback
                    # would stay alive for as long as the stream is parked (about 0.6 KiB, measured).
                    data = None
                if data is None:
                    # Nothing more for now: say so before waiting (the relay sends what it holds), then
                    # wait, and say so again after a silence (the relay keeps its deadlines and keep-alives).
                    yield b""
                    # Hold no received bytes while parked (about 1 KiB less per open stream, measured).
                    body = None
                    sock.settimeout(max(0.001, idle()))
                    try:
                        data = sock.recv(READ_SIZE)
                    except (socket.timeout, ssl.SSLWantReadError):
                        continue
                    finally:
                        sock.settimeout(0)
                if not data:
                    if framing.until_close:
                        break
                    raise http.client.IncompleteRead(b"")
                body = framing.feed(data)
                if body:
                    yield body
        finally:
            try:
                sock.settimeout(timeout)
            except OSError:
                pass  # closed meanwhile: the answer was abandoned, and its socket with it
        if not keep:
            head.close()  # the upstream said `Connection: close`: this closes the socket too
        raw.release_conn()  # the whole body is read: the connection can carry the next request

    def finish(self, chunks: Iterator[bytes]) -> None:
        """Read what follows the answer's end marker (the body's last chunk), as the OpenAI SDK does, so
        the connection can be reused: opening one per request cost more than the rest of the relay. Read
        with wake-ups, it waits one silence at most: a body that does not end then is closed, not reused."""
        silences = 0
        for piece in chunks:
            if not piece:
                silences += 1  # the first says the reader is about to wait, the second that it waited
                if silences == 2:
                    return

    def read_all(self, limit: int = 1 << 20) -> bytes:
        """Read a (small) whole body, such as an error reply."""
        try:
            return self.response.raw.read(limit, decode_content=True) or b""
        except (requests.RequestException, OSError, ValueError):
            return b""

    def abort(self) -> None:
        """Unblock a read in progress elsewhere: shut the socket down; the reader then closes it."""
        try:
            self.response.raw.shutdown()
        except (AttributeError, ValueError, RuntimeError, OSError):
            pass  # already closed, released, or not a real socket (unit tests' mocks)

    def close(self) -> None:
        """Close a connection that was not read to its end (a fully read one is already back in the pool)."""
        self.response.close()


class _Chunked:
    """Undoes chunked transfer coding (RFC 9112 §7.1) on bytes split anywhere."""

    until_close = False
    __slots__ = ("done", "_pending", "_left", "_crlf", "_trailers")

    def __init__(self) -> None:
        self.done = False
        self._pending = b""
        self._left = 0            # bytes of the current chunk still to come
        self._crlf = False        # the CRLF after a chunk's data is due
        self._trailers = False    # after the last chunk: trailer lines until an empty one

    def feed(self, data: bytes) -> bytes:
        """The body bytes in data; raises IncompleteRead on a malformed coding."""
        buf = self._pending + data if self._pending else data
        out, pos, end = [], 0, len(buf)
        # Locals in the loop, the state written back once: a body of many small chunks is read in one pass.
        left, crlf, trailers, done = self._left, self._crlf, self._trailers, self.done
        while pos < end and not done:
            if left:
                piece = buf[pos:pos + left]
                out.append(piece)
                pos += len(piece)
                left -= len(piece)
                crlf = not left
                if crlf and buf.startswith(b"\r\n", pos):
                    pos, crlf = pos + 2, False
                continue
            if not crlf and not trailers and (head := _PLAIN_HEAD.match(buf, pos)):
                pos, left = head.end(), int(head[1], 16)
                trailers = not left
                continue
            eol = buf.find(b"\n", pos)
            if eol < 0:
                if end - pos > _MAX_CHUNK_LINE:
                    raise http.client.IncompleteRead(b"", None)
                break
            line = buf[pos:eol].rstrip(b"\r")
            pos = eol + 1
            if crlf:
                if line:
                    raise http.client.IncompleteRead(b"", None)
                crlf = False
            elif trailers:
                done = not line
            else:
                digits = line.split(b";", 1)[0].strip()
                if not _HEX_SIZE.fullmatch(digits):  # int() would take "-1", "0x10", "1_0": not HTTP
                    raise http.client.IncompleteRead(b"", None)
                left = int(digits, 16)
                trailers = not left
        self._left, self._crlf, self._trailers, self.done = left, crlf, trailers, done
        self._pending = buf[pos:] if pos < end and not done else b""
        return b"".join(out) if len(out) != 1 else out[0]


class _Counted:
    """A body of Content-Length bytes, or one that ends when the upstream closes (no length)."""

    __slots__ = ("until_close", "_left", "done")

    def __init__(self, length: int | None) -> None:
        self.until_close = length is None
        self._left = length
        self.done = length == 0

    def feed(self, data: bytes) -> bytes:
        """The body bytes in data (never more than the length)."""
        if self._left is None:
            return data
        data = data[:self._left]
        self._left -= len(data)
        self.done = not self._left
        return data

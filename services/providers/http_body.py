"""A streamed upstream HTTP body: read as it arrives, and abortable from another greenlet."""

from __future__ import annotations

import http.client
from typing import Iterator

import requests
import urllib3

READ_SIZE = 65536
# What a read of a streamed body raises when the connection breaks, times out or is shut down.
READ_ERRORS = (requests.RequestException, urllib3.exceptions.HTTPError, http.client.HTTPException, OSError)


class HttpBody:
    """Wraps a `requests` response opened with stream=True."""

    def __init__(self, response: requests.Response):
        self.response = response

    def chunks(self) -> Iterator[bytes]:
        """Yield bytes as soon as they arrive (chunked or not), decoded from gzip/deflate."""
        raw = self.response.raw
        while True:
            data = raw.read1(READ_SIZE, decode_content=True)
            if not data:
                return  # urllib3 has put a fully read connection back in its pool
            yield data

    def finish(self, chunks: Iterator[bytes]) -> None:
        """Read what follows the answer's end marker (the body's last chunk), as the OpenAI SDK does, so
        the connection can be reused: opening one per request cost more than the rest of the relay."""
        for _ in chunks:
            pass

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

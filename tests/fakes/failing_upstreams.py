"""The fake upstreams in a process of their own, each failing as its key's prefix says (any number of keys).

A test that counts the cyclic garbage its own process leaves (tests/unit/test_failure_garbage.py) must not
count the fakes'. `with FailingUpstreams() as up:` starts them; `up.urls` names the fake OpenAI-compatible
upstream ("api"), the fault-injection one ("faulty") and the fake web chat ("web"). Keys `<prefix>-<n>` of the
prefixes in KINDS fail that way; each request may use a new key, so no token rests between them.
"""

from __future__ import annotations

import collections
import logging
import multiprocessing
import threading

# prefix -> (server, how it fails)
KINDS = {
    "sk-5xx": ("api", {"status": 500}),
    "sk-inband": ("api", {"mid_stream_error": True}),    # an error event inside a 200 stream
    "sk-reset": ("faulty", {"mode": "reset"}),
    "sk-stall": ("faulty", {"mode": "stall_headers"}),    # no headers until the client gives up
    "web-overloaded": ("web", {"state": "overloaded"}),
    "web-cut": ("web", {"cut_after": 1}),                 # the connection drops during the answer
}


class ByPrefix(dict):
    """Scripts looked up by a key's prefix (up to its last '-')."""

    def get(self, key, default=None):
        return super().get(key.rpartition("-")[0], default)


def _serve(conn) -> None:
    """The child: start the fakes, script them, send their URLs, and serve until told to stop."""
    from tests.fakes.deepseek_web import Account, FakeWebChat
    from tests.fakes.faulty_upstream import Fault, FaultyUpstream
    from tests.fakes.openai_upstream import FakeOpenAI, Script

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per request is noise here
    with FakeOpenAI() as api, FaultyUpstream() as faulty, FakeWebChat(difficulty=50) as web:
        api.scripts = ByPrefix({p: Script(**o) for p, (s, o) in KINDS.items() if s == "api"})
        faulty.faults = ByPrefix({p: Fault(**o) for p, (s, o) in KINDS.items() if s == "faulty"})
        faulty.hung_up = collections.defaultdict(threading.Event)
        web.accounts = ByPrefix({p: Account(**o) for p, (s, o) in KINDS.items() if s == "web"})
        conn.send({"api": api.url, "faulty": faulty.url, "web": web.url})
        conn.recv()


class FailingUpstreams:
    """The fakes in a spawned process (a clean interpreter: nothing of the test's is copied into it)."""

    def __enter__(self) -> "FailingUpstreams":
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child,), daemon=True)
        self._process.start()
        if not self._conn.poll(60):
            self._process.kill()
            raise RuntimeError("the fake upstreams did not start within 60 s")
        self.urls: dict[str, str] = self._conn.recv()
        return self

    def __exit__(self, *exc) -> None:
        self._conn.send("stop")
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
        self._conn.close()

"""The relay's hand-overs and the body reader's edges: a client leaving at any moment frees the lease, a body
that does not end after [DONE], redirects, broken chunk sizes, held content before an error, aborts mid-connect."""

from __future__ import annotations

import threading
import time
import types


from services.credentials import Token
from services.events import Finish, KeepAlive, Text
from services.providers.http_body import HttpBody, _Chunked
from services.providers.http_send import JsonPoster
from services.providers.openai_compatible import OpenAIStream
from services.relay import HEARTBEAT, Relay
from tests.fakes.faulty_upstream import wait_until
from tests.unit.test_http_body import SSE, RawUpstream, head, post, session  # noqa: F401 (a fixture)


# ---- 1. a client that leaves while the producer hands the steps over leaks the lease and the run -----------

class _Lease:
    def __init__(self, pool, token):
        self.pool, self.token = pool, token

    def release(self):
        self.pool.released += 1


class _Pool:
    released = 0

    def ticket(self):
        return object()

    def acquire(self, candidates, timeout, cancelled, ticket):
        return _Lease(self, candidates[0])

    def report_success(self, token):
        pass

    def report_failure(self, token, error):
        pass


class _Stream:
    inline = True

    def __init__(self):
        self.closed = False

    def abort(self):
        pass

    def close(self):
        self.closed = True

    def events(self, idle=None):
        yield Text(content="hi")
        yield Finish("stop")


class _Adapter:
    def __init__(self, gate: threading.Event):
        self.gate, self.stream = gate, None

    def open(self, call, token):
        self.gate.wait(5)
        self.stream = _Stream()
        return self.stream


SETTINGS = types.SimpleNamespace(first_heartbeat=0.05, heartbeat=0.05, queue_timeout=5, total_timeout=60,
                                 first_content_timeout=60, idle_timeout=60, precommit_seconds=20)


def test_a_client_leaving_as_the_answer_opens_frees_the_lease_and_the_run():
    gate, pool = threading.Event(), _Pool()
    adapter = _Adapter(gate)
    relay = Relay(SETTINGS, pool, lambda name: adapter)
    run = relay.start(types.SimpleNamespace(id="leak", stream=True), [Token("p", "s")])
    events = run.events()
    first: list = []
    reader = threading.Thread(target=lambda: first.append(next(events)), daemon=True)
    reader.start()
    reader.join(0.3)
    assert not first, "something was written while no upstream had accepted the request"
    gate.set()                              # the upstream answers: a keep-alive or the content goes out
    reader.join(5)
    assert first and (first[0] is HEARTBEAT or isinstance(first[0], Text))
    assert wait_until(lambda: run.inline, 10)   # the producer has handed the steps to the request side
    events.close()                          # the write failed: the client left (as _stream does)
    run.cancel()
    assert wait_until(lambda: pool.released == 1, 10), "the token's lease is never released"
    assert run not in relay.runs, "the run stays in relay.runs for ever (shutdown waits for it)"
    assert adapter.stream.closed, "the upstream answer (and its socket) is never closed"


# ---- 2. [DONE] without the body's end: the request greenlet is stuck in finish(), deaf to everything -------

def test_an_answer_whose_body_does_not_end_after_done_still_finishes_promptly(session):
    stall = threading.Event()
    wire = b"%x\r\n%s\r\n" % (len(SSE), SSE)     # content, then [DONE]; the last chunk comes much later
    upstream = RawUpstream([head(), wire, stall, b"0\r\n\r\n"])
    got: list = []
    try:
        stream = OpenAIStream("p", Token("p", "s"), post(session, upstream))

        def consume():
            for event in stream.events(lambda: 0.05):
                got.append((time.monotonic(), event))
        started = time.monotonic()
        reader = threading.Thread(target=consume, daemon=True)
        reader.start()
        assert wait_until(lambda: any(isinstance(e, Text) for _, e in got), 10)
        # The relay needs *something* back within its check period (a Finish, or a KeepAlive at least),
        # else the held content is not flushed and no deadline, keep-alive or departed client is noticed.
        assert wait_until(lambda: isinstance(got[-1][1], (Finish, KeepAlive)), 10), \
            f"nothing after the content for {time.monotonic() - started:.1f} s: stuck reading past [DONE]"
        reader.join(2)
        stream.close()  # as the relay does: the body that did not end is closed, not left to the collector
    finally:
        stall.set()
        upstream.close()


# ---- 3. a negative chunk size spins for ever (and, under gevent, holds the hub) ----------------------------

def test_a_negative_chunk_size_is_a_broken_read_not_a_busy_loop():
    outcome: list = []

    def feed():
        try:
            _Chunked().feed(b"-1\r\nhello\r\n0\r\n\r\n")
            outcome.append("accepted")
        except Exception as exc:  # IncompleteRead expected
            outcome.append(type(exc).__name__)
    spinner = threading.Thread(target=feed, daemon=True)
    spinner.start()
    spinner.join(10)
    assert outcome, "feed() is still spinning on a chunk of size -1"
    assert outcome == ["IncompleteRead"]


# ---- 4. a 307/308 redirect is followed without the body ----------------------------------------------------

def test_a_307_redirect_resends_the_body(session):
    redirect = b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /v2/chat/completions\r\nContent-Length: 0\r\n\r\n"
    upstream = RawUpstream([redirect], [head(b"Content-Length: %d\r\n" % len(SSE)), SSE])
    try:
        session.trust_env = False    # as http_session() sets it when no proxy is configured (the usual case)
        response = JsonPoster(session, upstream.url).post(b'{"a":1}', {}, (2, 2))
        assert response.status_code == 200
        assert b"".join(HttpBody(response).chunks(lambda: 1.0)) == SSE
    finally:
        upstream.close()


# ---- 5. an error mid-burst drops the content held for coalescing -------------------------------------------

def test_content_held_for_coalescing_is_written_before_a_mid_stream_error():
    from services.completions import Completions
    from services.dialects import openai_chat
    from services.errors import GatewayError

    call = openai_chat.parse({"model": "deepseek-chat", "stream": True,
                              "messages": [{"role": "user", "content": "hi"}]})
    renderer = openai_chat.ChatRenderer(call)
    run = types.SimpleNamespace(inline=True, stats=types.SimpleNamespace(ttfb=None), started=time.monotonic())

    def events():  # one upstream burst: content, then the connection breaks before any silence (no FLUSH)
        yield Text(content="the last words")
        raise GatewayError("p: the connection broke during the answer")
    # The body's own bookkeeping (metrics, the log line) left out; its rendering and its in-band error kept.
    completions = types.SimpleNamespace(
        _hold=Completions._hold, _opened=lambda renderer: 200, _closed=lambda run, renderer, status: None,
        _failed=lambda run, exc, render_error: Completions._failed(None, run, exc, render_error))
    written = b"".join(Completions._stream(completions, run, renderer, None, events()))
    assert b"the last words" in written, "content the upstream sent was never written"
    assert written.index(b"the last words") < written.index(b'"error"'), "the in-band error must come after it"


# ---- 6. opening on the producer: an abort does not reach a connection that is still connecting -------------

def test_a_client_leaving_during_the_tls_handshake_frees_the_lease_at_once():
    import socket

    from services.dialects import openai_chat
    from services.gateway import http_session
    from services.providers.openai_compatible import OpenAICompatible
    from services.providers.registry import Provider
    from services.settings import Settings

    silent = socket.create_server(("127.0.0.1", 0))   # accepts the TCP connection, never answers the hello
    try:
        settings = Settings(connect_timeout=8.0)
        provider = Provider(name="p", base_url=f"https://127.0.0.1:{silent.getsockname()[1]}/v1")
        adapter = OpenAICompatible(provider, http_session(settings), settings)
        pool = _Pool()
        relay = Relay(settings, pool, lambda name: adapter)
        call = openai_chat.parse({"model": "deepseek-chat", "stream": True,
                                  "messages": [{"role": "user", "content": "hi"}]})
        run = relay.start(call, [Token("p", "sk-x")])
        events = run.events()
        connected, accepted = threading.Event(), []
        threading.Thread(target=lambda: (accepted.append(silent.accept()[0]), connected.set()), daemon=True).start()
        threading.Thread(target=lambda: list(events), daemon=True).start()
        assert connected.wait(5)              # in the handshake now
        run.cancel()                          # the client left (or the worker shuts down)
        assert wait_until(lambda: pool.released == 1, 10), \
            "the lease is held until the connect timeout, though the attempt was aborted"
    finally:
        for conn in accepted:
            conn.close()
        silent.close()

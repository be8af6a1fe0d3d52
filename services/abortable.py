"""Abort scopes: every upstream connection an attempt uses can be shut from outside, in whatever phase it is.

An attempt runs its adapter inside a scope; the HTTP session's connections register with the scope that is
current when they connect or send a request, and leave it when they go back to the pool. `abort()` shuts
their sockets down, which wakes a read blocked anywhere (connecting, waiting for headers, reading a body)
and refuses any request the attempt tries to start afterwards. Adapters need no code for it.
"""

from __future__ import annotations

import select
import socket
import threading
import weakref
from typing import Callable, TypeVar

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from services.errors import clear_frames

T = TypeVar("T")
_local = threading.local()  # greenlet-local under gevent: each attempt's opener has its own
try:  # the OS's own poll, even when gevent patched select (a poll of no wait needs no hub)
    from gevent.monkey import get_original
    _poll = get_original("select", "poll")
except (ImportError, AttributeError):  # pragma: no cover - gevent is a runtime dependency; poll is POSIX
    _poll = getattr(select, "poll", None)


class AbortScope:
    """The upstream connections one attempt is using; `abort()` shuts them all, now and from then on."""

    __slots__ = ("_lock", "_connections", "aborted", "_outer", "on_send", "__weakref__")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connections: set = set()
        self.aborted = False
        self.on_send: Callable[[], None] | None = None  # told when the answer's own request goes out

    def __enter__(self) -> "AbortScope":
        self._outer = getattr(_local, "scope", None)
        _local.scope = self
        return self

    def __exit__(self, *exc) -> None:
        _local.scope = self._outer

    def bind(self, fn: Callable[..., T]) -> Callable[..., T]:
        """Wrap fn so it runs inside this scope (for work an adapter hands to another thread)."""
        def run(*args, **kwargs):
            with self:
                return fn(*args, **kwargs)
        return run

    def abort(self) -> None:
        """Shut down every connection in use and refuse new ones (safe from any greenlet or thread)."""
        with self._lock:
            self.aborted = True
            connections = list(self._connections)
        for connection in connections:
            _shut(connection.sock)

    def _add(self, connection) -> None:
        with self._lock:
            if self.aborted:
                raise ConnectionAbortedError("the attempt was aborted")
            self._connections.add(connection)
            # Weakly: a connection that failed never goes back to the pool to leave the scope, and a strong
            # reference both ways would be a cycle per failed request.
            connection._abort_scope = weakref.ref(self)

    def _discard(self, connection) -> None:
        with self._lock:
            self._connections.discard(connection)


def current() -> AbortScope | None:
    """The scope of the running attempt, if any."""
    return getattr(_local, "scope", None)


def answer_sent() -> None:
    """An adapter is about to send the answer's own request (not a session or challenge call): the attempt's
    lease counts it against the account's pace, and may refuse it by raising (a no-op outside an attempt)."""
    scope = current()
    if scope is not None and scope.on_send is not None:
        scope.on_send()


def bind(fn: Callable[..., T]) -> Callable[..., T]:
    """Wrap fn so that, run in another thread, it stays in the caller's scope (a no-op outside one)."""
    scope = current()
    return fn if scope is None else scope.bind(fn)


def _shut(sock) -> None:
    """Shut a socket down both ways, whoever is blocked on it."""
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)  # gevent also cancels the waits on it
    except (OSError, ValueError):
        pass  # already closed


class _ScopedConnection:
    """Registers itself with the current scope whenever it connects or carries a request."""

    def connect(self) -> None:
        scope = current()
        if scope is not None and scope.aborted:
            raise ConnectionAbortedError("the attempt was aborted")
        super().connect()
        if scope is not None:
            try:
                scope._add(self)
            except ConnectionAbortedError:
                _shut(self.sock)  # aborted while connecting
                raise

    def request(self, *args, **kwargs):
        scope = current()
        if scope is not None:
            scope._add(self)
        return super().request(*args, **kwargs)

    @property
    def is_connected(self) -> bool:
        """Whether a pooled connection still stands (nothing to read on it, as urllib3 asks before reusing
        one), asked of the OS at once: through gevent's patched poll this cost ~35 µs per request."""
        if self.sock is None or _poll is None:
            return super().is_connected
        poller = _poll()
        try:
            poller.register(self.sock, select.POLLIN)
        except (OSError, ValueError):  # closed under us
            return False
        return not poller.poll(0)


class _Connection(_ScopedConnection, HTTPConnection):
    pass


class _TLSConnection(_ScopedConnection, HTTPSConnection):
    pass


class _ScopedPool:
    def _put_conn(self, conn) -> None:
        ref = getattr(conn, "_abort_scope", None)
        scope = ref() if ref is not None else None
        if scope is not None:
            scope._discard(conn)  # back in the pool: another attempt may take it
        super()._put_conn(conn)


class _Pool(_ScopedPool, HTTPConnectionPool):
    ConnectionCls = _Connection


class _TLSPool(_ScopedPool, HTTPSConnectionPool):
    ConnectionCls = _TLSConnection


_POOLS = {"http": _Pool, "https": _TLSPool}


class AbortableHTTPAdapter(HTTPAdapter):
    """A `requests` transport whose connections join the current abort scope."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = _POOLS
        return manager

    def send(self, request, *args, **kwargs):
        """Send as requests does; a failure leaves with the frames it passed through emptied (urllib3's
        urlopen keeps the error it caught in a local of a frame on that error's traceback: a cycle)."""
        try:
            return super().send(request, *args, **kwargs)
        except Exception as error:
            clear_frames(error)
            raise

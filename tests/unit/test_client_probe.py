"""Noticing a client that left, whatever its socket's descriptor number."""

from __future__ import annotations

import socket

from blueprints.chat import connection_closed


def test_a_closed_peer_is_noticed_and_a_live_one_is_not_even_past_descriptor_1023():
    filler = [socket.socket() for _ in range(1100)]  # push the pair's descriptors above select()'s limit
    try:
        ours, theirs = socket.socketpair()
        assert ours.fileno() > 1023
        ours.settimeout(30)
        assert connection_closed(ours) is False
        theirs.sendall(b"GET / HTTP/1.1\r\n")  # a pipelined request is data, not a goodbye
        assert connection_closed(ours) is False
        assert ours.recv(100)
        theirs.close()
        assert connection_closed(ours) is True
        assert ours.gettimeout() == 30  # the socket is left as it was
        ours.close()
    finally:
        for sock in filler:
            sock.close()

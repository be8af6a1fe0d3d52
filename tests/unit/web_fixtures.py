"""Fixtures for tests that assert a web answer's HTTP status: a patient first heartbeat.

A web answer solves a proof of work, creates a session and may upload files first; on a loaded machine that
can outlast the 1 s first heartbeat of the fast test settings, and a non-stream answer that waits that long is
committed as a late 200 whose error arrives in the body. Import both names into a test module to use them.
"""

from __future__ import annotations

import pytest


@pytest.fixture
def make_app(make_app):
    """The app factory with a 10 s first heartbeat unless a test sets another."""
    return lambda **env: make_app(**{"FREESEEK_FIRST_HEARTBEAT_SECONDS": "10", **env})


@pytest.fixture
def client(make_app):
    """A test client of such an app."""
    return make_app().test_client()

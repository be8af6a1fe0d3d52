"""A real redis-server on a free loopback port, without persistence, that tests can restart."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

import pytest
import redis

from services.store.keys import LEASES_READY_KEY


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_binary() -> str:
    """The redis-server binary, or a skip (a failure under CI, which installs it) when it is missing."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("redis-server is missing (apt-get install redis-server; .ci/run does it)")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    return binary


class RedisServer:
    """`url` points at it; `restart()` loses every key, as a Redis without persistence does, unless it was given
    a `data_dir`: then every write is appended there (fsync always) and a restart keeps it, expiries included."""

    def __init__(self, data_dir: str | None = None) -> None:
        self.binary, self.data_dir = redis_binary(), data_dir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        kept = ["--dir", self.data_dir, "--appendonly", "yes", "--appendfsync", "always"] if self.data_dir else \
            ["--appendonly", "no"]
        self.process = subprocess.Popen([self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
                                         "--save", "", *kept],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    client.close()
                    return
            except redis.ConnectionError:
                time.sleep(0.02)  # the port is not open yet: there is no event to wait on
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def mark_fresh(self) -> None:
        """Say the emptied store holds no slot anywhere (a test knows it; a gateway cannot, and waits a lease
        time after finding it empty): slots are granted at once."""
        client = redis.Redis(port=self.port)
        client.set(LEASES_READY_KEY, 0)
        client.close()

    def flush(self) -> None:
        client = redis.Redis(port=self.port)
        client.flushall()
        client.close()

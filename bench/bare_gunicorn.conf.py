"""gunicorn settings of the bare relay: freeseek's worker class, connections, keep-alive and timeouts, read from
its gunicorn.conf.py so they cannot drift, and none of its hooks."""

import runpy
from pathlib import Path

_freeseek = runpy.run_path(str(Path(__file__).resolve().parents[1] / "gunicorn.conf.py"))
worker_class = _freeseek["worker_class"]
worker_connections = _freeseek["worker_connections"]
keepalive = _freeseek["keepalive"]
timeout = _freeseek["timeout"]
graceful_timeout = _freeseek["graceful_timeout"]
# No control socket: a second relay started beside the first would contend for the same path.
control_socket_disable = _freeseek["control_socket_disable"]
workers = 1

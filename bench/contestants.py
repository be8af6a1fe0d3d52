"""Start and stop what is measured: the fake upstream, the bare relay, the gateway, and LiteLLM's proxy."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHAT_PATH = "/v1/chat/completions"


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, seconds: float, log: Path) -> None:
    """Wait until something listens on the port, or fail with the process's log."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited:\n{log.read_text()[-3000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)  # nothing to await across processes but the port itself
    raise RuntimeError(f"nothing listened on {port} within {seconds} s:\n{log.read_text()[-3000:]}")


def rss_kb(pid: int) -> int:
    """Resident memory of a process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """CPU time a process's live threads have run so far, from the scheduler's nanosecond counters (utime and
    stime in /proc/<pid>/stat count in 10 ms ticks)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except OSError:  # a thread that ended between the listing and the read
            continue
    return total / 1e9


def children(pid: int) -> list[int]:
    """A process's children: gunicorn's workers, of its master."""
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


# Account care off (docs/account-care.md): the benches' web accounts answer back to back.
ACCOUNT_CARE_OFF = {"FREESEEK_WEB_MIN_GAP_SECONDS": "0", "FREESEEK_WEB_GAP_JITTER_SECONDS": "0",
                    "FREESEEK_WEB_HOURLY_BUDGET": "0", "FREESEEK_WEB_DAILY_BUDGET": "0",
                    "FREESEEK_WEB_DELETE_GAP_SECONDS": "0"}


@dataclass
class Contestant:
    """Something that answers chat completions on a port."""

    name: str
    port: int
    token: str
    process: subprocess.Popen | None = None
    log: Path | None = None

    helpers: tuple[int, ...] = ()   # processes it needs that serve its requests too (its Redis)

    @property
    def server_pids(self) -> list[int]:
        """Every process that serves its requests: gunicorn's workers (not its master) and its helpers."""
        if self.process is None:
            raise RuntimeError("no process")
        return (children(self.process.pid) or [self.process.pid]) + list(self.helpers)

    @property
    def server_pid(self) -> int:
        """The process that serves requests (gunicorn's worker, not its master)."""
        if self.process is None:
            raise RuntimeError("no process")
        return (children(self.process.pid) or [self.process.pid])[0]

    def stop(self) -> None:
        """Stop the process and its children."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=25)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _start(name: str, args: list[str], env: dict, workdir: Path, port: int, token: str, seconds: float) -> Contestant:
    log = workdir / f"{name}.log"
    process = subprocess.Popen(args, cwd=ROOT, env={**os.environ, **env}, stdout=log.open("w"),
                               stderr=subprocess.STDOUT)
    wait_for_port(port, process, seconds, log)
    return Contestant(name, port, token, process, log)


def start_upstream(workdir: Path) -> Contestant:
    """The fake upstream; "direct" means asking it without a proxy."""
    port = free_port()
    return _start("direct", [sys.executable, "-m", "bench.upstream", str(port)], {}, workdir, port, "bench", 15)


def start_bare(workdir: Path, upstream: Contestant) -> Contestant:
    """The bare relay (bench/bare_relay.py) under gunicorn with one gevent worker, as freeseek is served."""
    port = free_port()
    env = {"BENCH_UPSTREAM_URL": f"http://127.0.0.1:{upstream.port}{CHAT_PATH}"}
    return _start("bare", [sys.executable, "-m", "gunicorn", "-c", "bench/bare_gunicorn.conf.py", "-b",
                           f"127.0.0.1:{port}", "bench.bare_relay:app"], env, workdir, port, "bench", 30)


def start_gateway(workdir: Path, upstream: Contestant, web_url: str | None = None,
                  redis: Contestant | None = None) -> Contestant:
    """freeseek under gunicorn with one gevent worker, its ollama provider pointed at the upstream (and its
    deepseek-web provider at a fake web chat, given one); given a Redis, two workers sharing their state there."""
    providers = workdir / "providers.toml"
    providers.write_text(f'[providers.ollama]\nbase_url = "http://127.0.0.1:{upstream.port}/v1"\n' +
                         (f'[providers.deepseek-web]\nbase_url = "{web_url}"\n' if web_url else ""))
    port = free_port()
    env = {"FREESEEK_PROVIDERS_FILE": str(providers), "WEB_CONCURRENCY": "1"}
    name = "freeseek"
    if redis is not None:
        name, env["WEB_CONCURRENCY"] = REDIS_GATEWAY, "2"
        env["FREESEEK_REDIS_URL"] = f"redis://127.0.0.1:{redis.port}/0"
    gateway = _start(name, [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "-b",
                            f"127.0.0.1:{port}", "wsgi:app"], env, workdir, port, "ollama:bench", 30)
    if redis is not None:
        gateway.helpers = (redis.process.pid,)
    return gateway


# The contestant that runs freeseek as it scales out: two gevent workers sharing leases and health in Redis.
REDIS_GATEWAY = "freeseek-redis-2w"


def start_redis(workdir: Path) -> Contestant:
    """A redis-server without persistence on a free port, known to hold no slot (no first-start wait)."""
    import redis

    from services.store.keys import LEASES_READY_KEY
    port = free_port()
    server = _start("redis", ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no"], {}, workdir, port, "", 15)
    client = redis.Redis(port=port)
    client.set(LEASES_READY_KEY, 0)
    client.close()
    return server


def litellm_python(venv: Path) -> Path:
    """LiteLLM's proxy in a virtual environment of its own (created on first use; never a project dependency)."""
    python = venv / "bin" / "python"
    if not (venv / "bin" / "litellm").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "litellm[proxy]"], check=True)
    return python


def start_litellm(workdir: Path, upstream: Contestant, venv: Path) -> Contestant:
    """LiteLLM's proxy with one worker, serving deepseek-chat from the same upstream."""
    litellm_python(venv)
    config = workdir / "litellm.yaml"
    config.write_text("model_list:\n  - model_name: deepseek-chat\n    litellm_params:\n"
                      f"      model: openai/deepseek-v3\n      api_base: http://127.0.0.1:{upstream.port}/v1\n"
                      "      api_key: bench\nlitellm_settings:\n  drop_params: true\n")
    port = free_port()
    # LiteLLM refuses to start without a master key; clients then present it, as ours present tokens.
    master_key = "sk-" + secrets.token_hex(32)
    env = {"LITELLM_LOG": "ERROR", "DISABLE_ADMIN_UI": "True", "LITELLM_TELEMETRY": "False",
           "LITELLM_MASTER_KEY": master_key}
    return _start("litellm", [str(venv / "bin" / "litellm"), "--config", str(config), "--host", "127.0.0.1",
                              "--port", str(port), "--num_workers", "1"], env, workdir, port, master_key, 180)

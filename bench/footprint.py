"""What freeseek costs to install and to keep: a fresh install of requirements.txt on disk, and one worker's
memory after start and after one web-chat and one API answer."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.client import Connection, timed_request
from bench.contestants import CHAT_PATH, ROOT, Contestant, rss_kb, start_bare, start_gateway
from bench.scenarios import body

# What a virtual environment brings before anything is installed: not part of our footprint.
INSTALLER = ("pip", "setuptools", "_distutils_hack", "pkg_resources", "distutils-precedence.pth")


def _installer(name: str) -> bool:
    return name in INSTALLER or (name.split("-")[0] in ("pip", "setuptools") and name.endswith(".dist-info"))


def install_size(workdir: Path) -> dict:
    """`pip install -r requirements.txt` into a new virtual environment (pip's cache is used); `du -sk` of its
    site-packages without the installer's own packages, in KiB, with the largest entries."""
    venv = workdir / "install-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    started = time.monotonic()
    pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                          "--disable-pip-version-check", "-r", str(ROOT / "requirements.txt")],
                         capture_output=True, text=True)
    if pip.returncode:  # pip's warnings about this machine's indexes are noise unless the install failed
        raise RuntimeError(f"pip install failed:\n{(pip.stdout + pip.stderr)[-3000:]}")
    seconds = time.monotonic() - started
    site = next((venv / "lib").glob("python*/site-packages"))
    counted = sorted(str(entry) for entry in site.iterdir() if not _installer(entry.name))
    du = subprocess.run(["du", "-skc", *counted], capture_output=True, text=True, check=True).stdout.splitlines()
    sizes = [(int(kib), Path(path).name) for kib, path in (line.split("\t", 1) for line in du[:-1])]
    total = int(du[-1].split("\t")[0])
    excluded = sorted(entry.name for entry in site.iterdir() if _installer(entry.name))
    distributions = sum(1 for entry in site.glob("*.dist-info") if not _installer(entry.name))
    shutil.rmtree(venv)  # about 400 MB, measured
    return {"site_packages_kib": total, "mb": total * 1024 / 1e6, "install_s": seconds,
            "distributions": distributions, "excluded": excluded,
            "largest": [{"name": name, "kib": kib} for kib, name in sorted(sizes, reverse=True)[:8]]}


def _answer_rss(contestant: Contestant, answers: list[tuple[dict, str]]) -> list[int]:
    """The serving process's RSS in KiB before and after each (request, token), on one connection."""
    conn = Connection(contestant.port)
    pid = contestant.server_pid
    sizes = [rss_kb(pid)]
    for request, token in answers:
        timed_request(conn, CHAT_PATH, request, token)
        sizes.append(rss_kb(pid))
    conn.close()
    return sizes


def worker_rss(workdir: Path, upstream: Contestant) -> dict:
    """freeseek's worker RSS once it answers GET /ping, after a web-chat answer (the fake web chat, whose proof
    of work at DeepSeek's difficulty runs the real kernel) and after an API answer; the bare relay's beside it."""
    from tests.fakes.deepseek_web import FakeWebChat
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the fake's access log
    web_request = {"model": "deepseek-chat", "stream": False, "messages": [{"role": "user", "content": "Hello"}]}
    with FakeWebChat(difficulty=144000) as web:
        gateway = start_gateway(workdir, upstream, web.url)
        try:
            # The master listens before its worker has booted: a request waits in the backlog until it has.
            ping = Connection(gateway.port)
            ping.get("/ping")
            ping.close()
            start, web_kb, both_kb = _answer_rss(gateway, [(web_request, "bench-web"),
                                                           (body(20, 0, False), "ollama:bench")])
        finally:
            gateway.stop()
        violations = list(web.violations)
    bare = start_bare(workdir, upstream)
    try:
        _, bare_kb = _answer_rss(bare, [(body(20, 0, False), bare.token)])
    finally:
        bare.stop()
    return {"start_kb": start, "after_web_kb": web_kb, "after_web_and_api_kb": both_kb,
            "web_violations": violations[:3], "bare_after_one_answer_kb": bare_kb}

"""The serving worker's memory over failing requests: `python -m bench.failure_memory [--thresholds A,B,C]`.

The gateway runs as it is served (gunicorn, one gevent worker, wsgi.py's collector thresholds unless
--thresholds sets others once the worker started) against the fakes of tests/fakes in a process of their own,
and is sent 4,000 requests (--requests) that all fail upstream, 500 at a time, a mix of kinds: connection
refused, reset, read timeout, HTTP 500, an error event in a 200 stream (whole answer and stream), the web chat
overloaded and its stream cut. The worker's RSS is sampled after each 500. Before failed calls left no cyclic
garbage, raised thresholds let it pile up between the collector's passes (docs/serving.md, "The cyclic
collector")."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.contestants import ACCOUNT_CARE_OFF, CHAT_PATH, ROOT, children, free_port, rss_kb, wait_for_port

REQUESTS, AT_ONCE = 4000, 500
# (provider of the token, key prefix in tests/fakes/failing_upstreams.py, stream): one of each in turn.
KINDS = [("gitee", "sk-refused", False), ("siliconflow", "sk-reset", False), ("siliconflow", "sk-stall", False),
         ("deepseek", "sk-5xx", False), ("deepseek", "sk-inband", False), ("deepseek", "sk-inband", True),
         ("deepseek-web", "web-overloaded", False), ("deepseek-web", "web-cut", True)]


def _providers(workdir: Path, urls: dict[str, str], refused: str) -> Path:
    """A providers file: deepseek on the fake API, siliconflow on the faulty one, gitee where nothing listens."""
    path = workdir / "providers.toml"
    path.write_text(f'[providers.deepseek]\nbase_url = "{urls["api"]}"\n'
                    f'[providers.siliconflow]\nbase_url = "{urls["faulty"]}"\n'
                    f'[providers.gitee]\nbase_url = "{refused}/v1"\n'
                    f'[providers.deepseek-web]\nbase_url = "{urls["web"]}"\n')
    return path


def _config(workdir: Path, thresholds: str | None) -> Path:
    """gunicorn.conf.py, or a copy of its settings that sets the collector's thresholds once the worker started."""
    if thresholds is None:
        return ROOT / "gunicorn.conf.py"
    path = workdir / "gunicorn.bench.py"
    path.write_text(f"import gc, runpy\nglobals().update(runpy.run_path({str(ROOT / 'gunicorn.conf.py')!r}))\n"
                    "_serving_init = post_worker_init\n\n\ndef post_worker_init(worker):\n"
                    "    _serving_init(worker)\n"
                    f"    gc.set_threshold({thresholds})\n")
    return path


def send(port: int, token: str, stream: bool) -> int:
    """One chat request, its answer read to the end; its status."""
    body = json.dumps({"model": "deepseek-chat", "stream": stream,
                       "messages": [{"role": "user", "content": "hi"}]})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("POST", CHAT_PATH, body, {"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def run(thresholds: str | None, requests: int = REQUESTS) -> dict:
    """Serve the gateway, send the failing requests and sample the worker's RSS (KiB) after each batch."""
    from tests.fakes.failing_upstreams import FailingUpstreams
    refused = f"http://127.0.0.1:{free_port()}"
    with FailingUpstreams() as up, tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        port = free_port()
        env = {**os.environ, "FREESEEK_PROVIDERS_FILE": str(_providers(workdir, up.urls, refused)),
               "WEB_CONCURRENCY": "1", "FREESEEK_LOG_LEVEL": "warning", "FREESEEK_FIRST_CONTENT_TIMEOUT": "5",
               **ACCOUNT_CARE_OFF}
        log = workdir / "gateway.log"
        process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(_config(workdir, thresholds)), "-b",
                                    f"127.0.0.1:{port}", "wsgi:app"], cwd=ROOT, env=env, stdout=log.open("w"),
                                   stderr=subprocess.STDOUT)
        try:
            wait_for_port(port, process, 30, log)
            # One of each first: the worker has booted, and what lives as long as it does (pools, the
            # proof-of-work kernel) is built before the first sample.
            for i, (provider, prefix, stream) in enumerate(KINDS):
                send(port, f"{provider}:{prefix}-warm{i}", stream)
            worker = children(process.pid)[0]
            samples, statuses, started = [rss_kb(worker)], Counter(), time.monotonic()
            with ThreadPoolExecutor(AT_ONCE) as pool:
                for batch in range(requests // AT_ONCE):
                    tokens = [(f"{KINDS[i % len(KINDS)][0]}:{KINDS[i % len(KINDS)][1]}-b{batch}n{i}",
                               KINDS[i % len(KINDS)][2]) for i in range(AT_ONCE)]
                    statuses.update(pool.map(lambda t: send(port, *t), tokens))
                    samples.append(rss_kb(worker))
            seconds = time.monotonic() - started
        finally:
            process.terminate()
            process.wait(30)
    return {"thresholds": thresholds or "wsgi.py's", "requests": requests, "seconds": round(seconds, 1),
            "statuses": dict(sorted(statuses.items())), "rss_mb": [round(kb * 1024 / 1e6, 1) for kb in samples]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--thresholds", help="the collector's thresholds in the worker, e.g. 700,10,10")
    parser.add_argument("--requests", type=int, default=REQUESTS, help=f"failed requests (default {REQUESTS})")
    args = parser.parse_args()
    result = run(args.thresholds, args.requests)
    rss = result["rss_mb"]
    print(json.dumps(result))
    print(f"worker RSS {rss[0]} MB -> {rss[-1]} MB over {result['requests']} failed requests "
          f"(highest {max(rss)} MB), {result['seconds']} s")


if __name__ == "__main__":
    main()

"""Large tool-call arguments: `python -m bench.sieve_scale`.

1. The streaming sieve alone, fed a write_file call whose CDATA content is 1, 2, 4 and 8 MB, in 64-character
   pieces and in 4-character ones: seconds per MB (constant when the work is linear); and 1 MB of hostile
   shapes in 4-character pieces (whitespace inside a block, lines each opening a block that never closes).
2. freeseek under gunicorn with one gevent worker, on the fake web chat, streaming a call with a 4 MB
   argument (in 1 KB pieces), while `GET /ping` is asked on the same worker again and again: the slowest
   and the 99th-percentile answer.
Run alone it prints the report's section; `python -m bench` (or `--only tools`) puts it in docs/benchmarks.md.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import requests

from tests.fakes.web_tools import WRITE, big_write

MB = 1024 * 1024


def big_answer(size: int) -> str:
    """An answer writing `size` characters of code (with <, >, quotes and backslashes) to a file."""
    return big_write(size)[0]


def sift(text: str, piece: int):
    """The sieve fed `text` in pieces of `piece` characters: the sieve and the seconds it took."""
    from services.tools.request import ToolRequest
    from services.tools.sieve import ToolSieve
    sieve = ToolSieve(ToolRequest.from_body({"tools": [WRITE]}))
    started = time.perf_counter()
    for i in range(0, len(text), piece):
        sieve.feed(text[i:i + piece])
    sieve.flush()
    return sieve, time.perf_counter() - started


def sieve_alone(sizes=(1, 2, 4, 8), piece: int = 64) -> list[dict]:
    """Seconds (and seconds per MB) the sieve takes over a call of each size, fed in small pieces."""
    rows = []
    for mb in sizes:
        text = big_answer(mb * MB)
        sieve, seconds = sift(text, piece)
        assert len(sieve.calls) == 1 and len(json.loads(sieve.calls[0].arguments)["content"]) == mb * MB
        rows.append({"mb": mb, "piece": piece, "seconds": seconds, "seconds_per_mb": seconds / mb,
                     "scanned_per_char": sieve.scanned / len(text)})
    return rows


HEAD = '<tool_calls>\n<invoke name="write_file">\n'
HOSTILE = {
    "whitespace between tags": lambda n: HEAD + " " * n + '<parameter name="path">a</parameter></invoke></tool_calls>',
    "whitespace after a CDATA value": lambda n: HEAD + '<parameter name="path"><![CDATA[a]]>' + " " * n +
                                                "</parameter></invoke></tool_calls>",
    "lines each opening a block never closed": lambda n: ('<tool_calls><invoke name="write_file">'
                                                          '<parameter name="path">x\n') * (n // 64),
}


def hostile_shapes(mb: int = 1, piece: int = 4) -> list[dict]:
    """Seconds the sieve takes over `mb` MB of each hostile shape, in tiny pieces."""
    rows = []
    for name, shape in HOSTILE.items():
        text = shape(mb * MB)
        sieve, seconds = sift(text, piece)
        rows.append({"shape": name, "mb": len(text) / MB, "piece": piece, "seconds": seconds,
                     "scanned_per_char": sieve.scanned / len(text)})
    return rows


def ping_during_large_call(mb: int = 4, piece: int = 1024) -> dict:
    """Stream a call with an `mb` MB argument through one gunicorn worker while pinging that worker."""
    from bench.contestants import start_gateway
    from tests.fakes.deepseek_web import FakeWebChat
    text = big_answer(mb * MB)
    pieces = [text[i:i + piece] for i in range(0, len(text), piece)]
    with FakeWebChat(difficulty=100) as web, tempfile.TemporaryDirectory() as workdir:
        web.account("bench-big", text=lambda prompt: pieces)
        gateway = start_gateway(Path(workdir), SimpleNamespace(port=9), web.url)
        base = f"http://127.0.0.1:{gateway.port}"
        try:
            requests.get(base + "/ping", timeout=10)
            done, result = threading.Event(), {}

            def call() -> None:
                started = time.perf_counter()
                reply = requests.post(base + "/v1/chat/completions", timeout=600,
                                      headers={"Authorization": "Bearer bench-big"},
                                      json={"model": "deepseek-chat", "tools": [WRITE],
                                            "messages": [{"role": "user", "content": "write a.py"}]})
                message = reply.json()["choices"][0]["message"]
                arguments = json.loads(message["tool_calls"][0]["function"]["arguments"])
                result.update(seconds=time.perf_counter() - started, exact=len(arguments["content"]) == mb * MB)
                done.set()

            threading.Thread(target=call, daemon=True).start()
            pings = []
            while not done.is_set():
                started = time.perf_counter()
                requests.get(base + "/ping", timeout=60)
                pings.append(time.perf_counter() - started)
                done.wait(0.02)
        finally:
            gateway.stop()
    pings.sort()
    return {"mb": mb, "call_seconds": result["seconds"], "exact": result["exact"], "pings": len(pings),
            "ping_max_ms": pings[-1] * 1000, "ping_p99_ms": pings[int(len(pings) * 0.99) - 1] * 1000}


def run(quick: bool = False) -> dict:
    """Both measurements (smaller in a quick run), for the report."""
    sizes = (1, 2) if quick else (1, 2, 4, 8)
    return {"sieve": sieve_alone(sizes) + sieve_alone(sizes, piece=4), "hostile": hostile_shapes(),
            "ping": ping_during_large_call(1 if quick else 4)}


def lines(large: dict | None) -> list[str]:
    """The report's section on large arguments."""
    if not large:
        return []
    ping = large["ping"]
    out = ["", "### Large arguments", "",
           "The streaming sieve alone, fed a `write_file` call whose CDATA content (code with `<`, `>`, quotes and "
           "backslashes) is this large, in 64-character pieces and in 4-character ones (most of the time then "
           "goes to the per-piece call, not to reading) (`python -m bench.sieve_scale`):", "",
           "| argument | piece | seconds | seconds per MB | characters looked at per character |",
           "|---|---|---|---|---|"]
    out += [f"| {r['mb']} MB | {r['piece']} | {r['seconds']:.2f} | {r['seconds_per_mb']:.2f} | "
            f"{r['scanned_per_char']:.2f} |" for r in large["sieve"]]
    out += ["", "Hostile shapes, 1 MB each in 4-character pieces:", "",
            "| shape | seconds | characters looked at per character |", "|---|---|---|"]
    out += [f"| {r['shape']} | {r['seconds']:.2f} | {r['scanned_per_char']:.2f} |" for r in large.get("hostile", [])]
    out += ["", f"Through freeseek under gunicorn with one gevent worker, on the fake web chat: a {ping['mb']} MB "
            f"argument in 1 KB pieces, answered whole in {ping['call_seconds']:.1f} s (most of it counting the "
            f"answer's tokens; arguments exact: {ping['exact']}), while `GET /ping` was asked {ping['pings']} times "
            f"on the same worker: slowest {ping['ping_max_ms']:.0f} ms, p99 {ping['ping_p99_ms']:.0f} ms."]
    return out


if __name__ == "__main__":
    print("\n".join(lines(run())))

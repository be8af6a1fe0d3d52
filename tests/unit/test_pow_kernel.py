"""The WebAssembly DeepSeekHashV1 kernel: a block filled to its last byte, and no stall of the hub meanwhile."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from services.providers.deepseek_web.pow import deepseek_hash, solve
from tests.fakes.keccak_reference import deepseek_hash_hex

ROOT = Path(__file__).resolve().parents[2]

# In a monkey-patched process, as in a gevent worker: a greenlet on the hub ticks every millisecond while the
# main greenlet solves the worst case through run_blocking (gevent's threadpool), as calls.py does. The
# switch interval is raised to 10 s, so a kernel that held the GIL would stop the ticks for the whole solve
# instead of yielding it every 5 ms.
PROBE = """
import gevent.monkey; gevent.monkey.patch_all()
import json, sys, time
import gevent
sys.setswitchinterval(10)
from services.offload import run_blocking
from services.providers.deepseek_web.pow import solve, warm
warm()
ticks = []
def tick():
    while True:
        ticks.append(time.monotonic())
        gevent.sleep(0.001)
ticker = gevent.spawn(tick)
gevent.sleep(0.01)
solves = []
for _ in range(3):
    started = time.monotonic()
    answer = run_blocking(solve, "f99dfd1071f8bdb8d9ca5df4738ed14510c7e349b47aaae25de825a4d007e539",
                          "0f1e2d3c4b5a69788796", 1767225600000, 144000)
    solves.append((started, time.monotonic(), answer))
    gevent.sleep(0.01)
ticker.kill()
print(json.dumps({"ticks": ticks, "solves": solves}))
"""


def test_an_answer_may_fill_the_block_to_its_last_byte():
    salt = "s" * (135 - len("_1_") - 4)  # a four-digit answer ends at byte 134; 0x06 and 0x80 share byte 135
    for answer in (0, 7, 1234, 9999):
        assert solve(deepseek_hash_hex(f"{salt}_1_{answer}".encode()), salt, 1, 10_000) == answer
    assert deepseek_hash(b"x" * 135).hex() == deepseek_hash_hex(b"x" * 135)
    with pytest.raises(ValueError):
        solve(deepseek_hash_hex(b"s_1_0"), salt, 1, 100_000)  # a five-digit candidate would not fit


def _solves(probe: str) -> list[tuple[int, float, float]]:
    """Run the probe; per solve: the ticks during it, the longest time without one, and how long it took."""
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    runs = []
    for started, ended, answer in result["solves"]:
        assert answer == 143999
        during = [started] + [t for t in result["ticks"] if started < t < ended] + [ended]
        runs.append((len(during) - 2, max(b - a for a, b in zip(during, during[1:])), ended - started))
    return runs


def _stalled(runs: list[tuple[int, float, float]]) -> bool:
    """Whether even the best of the solves (other processes share the cores) left the hub without ticks."""
    ticks, gap, took = max(runs)
    return ticks < 5 or gap >= took / 2


def test_greenlets_keep_running_during_a_worst_case_solve():
    runs = _solves(PROBE)
    assert not _stalled(runs), f"the hub stalled during a solve: (ticks, longest gap, solve) {runs}"


def test_the_probe_catches_a_kernel_that_holds_the_gil():
    # ctypes.pydll calls the same library keeping the GIL: the way a stalling kernel would look.
    assert _stalled(_solves("import ctypes; ctypes.cdll = ctypes.pydll\n" + PROBE))

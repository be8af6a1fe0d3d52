"""What stored responses hold in a worker's memory: 20 callers each storing a 9 MB response, within the default
FREESEEK_RESPONSE_STORE_* bounds (issue 25.6 measured 335 MB of RSS for this before the byte bounds)."""

from __future__ import annotations

import tracemalloc

from services.settings import Settings
from services.store.responses import MemoryResponses, ResponseBounds


def run(callers: int = 20, size: int = 9 * 1024 * 1024) -> dict:
    """Bytes the store holds (traced allocations) after every caller stored one response of `size` bytes."""
    tracemalloc.start()
    store = MemoryResponses(ResponseBounds.of(Settings()))
    before = tracemalloc.get_traced_memory()[0]
    for n in range(callers):
        store.put(f"caller-{n}", f"resp_{n}", {"messages": [{"role": "user", "content": "x" * size}]})
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    kept = sum(store.get(f"caller-{n}", f"resp_{n}") is not None for n in range(callers))
    return {"held_mib": held / 2**20, "kept": kept}


if __name__ == "__main__":
    figures = run()
    print(f"20 callers x 9 MB responses, default bounds: {figures['kept']} kept, "
          f"{figures['held_mib']:.1f} MiB held by the store")

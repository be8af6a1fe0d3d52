"""The benchmark harness: `python -m bench [--quick]` (see docs/benchmarks.md)."""

"""Prometheus metrics of one worker: every request is recorded here, through `record_request`, by every dialect."""

from __future__ import annotations

import time
from typing import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from services.models import ALIASES

# Labels stay bounded: a model label is one of our alias names or "other", a provider one of the configured
# names; token hashes become labels only when the operator asks (FREESEEK_METRICS_TOKEN_LABELS: a pool of
# thousands of tokens would be thousands of series).
KNOWN_MODELS = frozenset(name for names in ALIASES.values() for name in names)
# Time to first byte and whole answers, from a cached reply to an hour-long stream.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800, 3600)
QUEUE_BUCKETS = (0.001, 0.01, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


def model_label(name: str) -> str:
    """The model as a label value: our alias names as they are, anything else "other"."""
    return name if name in KNOWN_MODELS else "other"


class Metrics:
    """The metric families of one worker, in their own registry (each app in a test process has its own)."""

    def __init__(self, pool_state: Callable[[], Iterable[dict]] = lambda: (), token_labels: bool = False):
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("freeseek_requests", "Requests answered, by dialect, provider, model and status.",
                                ["dialect", "provider", "model", "status"], registry=r)
        self.ttfb = Histogram("freeseek_time_to_first_byte_seconds", "Seconds to the first byte of the answer.",
                              ["dialect", "provider"], buckets=LATENCY_BUCKETS, registry=r)
        self.duration = Histogram("freeseek_request_duration_seconds", "Seconds from request to the answer's end.",
                                  ["dialect", "provider"], buckets=LATENCY_BUCKETS, registry=r)
        self.tokens = Counter("freeseek_tokens", "Tokens in (prompt) and out (completion, reasoning included).",
                              ["dialect", "provider", "direction"], registry=r)
        self.streams_open = Gauge("freeseek_streams_open", "Responses being streamed to clients right now.",
                                  ["dialect"], registry=r)
        self.queue_wait = Histogram("freeseek_queue_wait_seconds", "Seconds a request waited to lease a token.",
                                    ["outcome"], buckets=QUEUE_BUCKETS, registry=r)
        self.queue_waiting = Gauge("freeseek_queue_waiting", "Requests waiting for a token right now.", registry=r)
        self.responses_not_stored = Counter(
            "freeseek_responses_not_stored", "Answered Responses that could not be stored for previous_response_id, "
            "by reason (store_unavailable, too_large, error).", ["reason"], registry=r)
        r.register(_PoolCollector(pool_state))
        r.register(_CareCollector(pool_state, token_labels))
        self._children: dict[tuple, object] = {}
        # The worker's memory and CPU (process_*): free tiers give 512 MB.
        ProcessCollector(registry=r)

    def record_request(self, dialect: str, provider: str | None, model: str, status: int,
                       ttfb: float | None, duration: float, tokens_in: int = 0, tokens_out: int = 0) -> None:
        """Record one finished request (the one place every dialect reports to)."""
        provider = provider or "none"
        self.series(self.requests, dialect, provider, model_label(model), str(status)).inc()
        if ttfb is not None:
            self.series(self.ttfb, dialect, provider).observe(ttfb)
        self.series(self.duration, dialect, provider).observe(duration)
        if tokens_in:
            self.series(self.tokens, dialect, provider, "in").inc(tokens_in)
        if tokens_out:
            self.series(self.tokens, dialect, provider, "out").inc(tokens_out)

    def response_not_stored(self, reason: str) -> None:
        """Count an answered response that is not stored (the store failed, or it was past the bounds)."""
        self.series(self.responses_not_stored, reason).inc()

    def stream_opened(self, dialect: str) -> None:
        """Count a response that started streaming."""
        self.series(self.streams_open, dialect).inc()

    def stream_closed(self, dialect: str) -> None:
        """Count a streamed response that ended."""
        self.series(self.streams_open, dialect).dec()

    def series(self, metric, *labels: str):
        """The metric's series for these labels, looked up once: `labels()` validates and locks on every call,
        a few microseconds each, several times per request."""
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child


class MeteredPool:
    """A token pool whose waits are timed; everything else goes to the pool itself, which stays metrics-free."""

    def __init__(self, pool, metrics: Metrics):
        self._pool, self._metrics = pool, metrics

    def acquire(self, *args, **kwargs):
        """Lease a token as the pool does, recording how long the wait took and how it ended."""
        started = time.monotonic()
        self._metrics.queue_waiting.inc()
        outcome = "error"
        try:
            lease = self._pool.acquire(*args, **kwargs)
            outcome = "leased"
            return lease
        finally:
            self._metrics.queue_waiting.dec()
            self._metrics.series(self._metrics.queue_wait, outcome).observe(time.monotonic() - started)

    def lease_now(self, tokens):
        """Lease a token at once as the pool does, recorded as a wait of no time when it worked."""
        lease = self._pool.lease_now(tokens)
        if lease is not None:
            self._metrics.series(self._metrics.queue_wait, "leased").observe(0.0)
        return lease

    def __getattr__(self, name):
        return getattr(self._pool, name)


class _PoolCollector(Collector):
    """Server-held tokens by provider and state, and their requests in flight, read at scrape time."""

    def __init__(self, pool_state: Callable[[], Iterable[dict]]):
        self._pool_state = pool_state

    def describe(self):
        """Name the families without reading the pool (registration must not depend on its state)."""
        return [GaugeMetricFamily("freeseek_pool_tokens", "Server-held tokens by provider and state.",
                                  labels=["provider", "state"]),
                GaugeMetricFamily("freeseek_pool_in_flight", "Requests in flight on server-held tokens.",
                                  labels=["provider"])]

    def collect(self):
        """Count the pool's view of the server-held tokens."""
        tokens = GaugeMetricFamily("freeseek_pool_tokens", "Server-held tokens by provider and state.",
                                   labels=["provider", "state"])
        in_flight = GaugeMetricFamily("freeseek_pool_in_flight", "Requests in flight on server-held tokens.",
                                      labels=["provider"])
        counts: dict[tuple[str, str], int] = {}
        busy: dict[str, int] = {}
        for entry in self._pool_state():
            key = (entry["provider"], entry["state"])
            counts[key] = counts.get(key, 0) + 1
            busy[entry["provider"]] = busy.get(entry["provider"], 0) + entry["in_flight"]
        for (provider, state), count in sorted(counts.items()):
            tokens.add_metric([provider, state], count)
        for provider, count in sorted(busy.items()):
            in_flight.add_metric([provider], count)
        yield tokens
        yield in_flight


class _CareCollector(Collector):
    """Web accounts' pace: budget left per provider, and per account by short hash when the operator asks."""

    def __init__(self, pool_state: Callable[[], Iterable[dict]], token_labels: bool):
        self._pool_state, self._token_labels = pool_state, token_labels

    def _families(self) -> list[GaugeMetricFamily]:
        families = [GaugeMetricFamily("freeseek_pool_budget_left", "Answers web accounts may still start in the "
                                      "rolling hour or day, summed by provider.", labels=["provider", "window"])]
        if self._token_labels:
            families += [
                GaugeMetricFamily("freeseek_account_budget_left", "Answers one web account may still start in the "
                                  "rolling hour or day (by short hash).", labels=["token", "window"]),
                GaugeMetricFamily("freeseek_account_next_start_seconds", "Seconds until one web account may start "
                                  "its next answer (0: now).", labels=["token"]),
                GaugeMetricFamily("freeseek_account_reduced", "1 while a web account's budgets are reduced after a "
                                  "mute or ban.", labels=["token"])]
        return families

    def describe(self):
        """Name the families without reading the pool."""
        return self._families()

    def collect(self):
        """Read the pool's view of the server-held web accounts."""
        families = self._families()
        left: dict[tuple[str, str], int] = {}
        now = time.time()
        for entry in self._pool_state():
            care = entry.get("care")
            if care is None:
                continue
            for window in ("hour", "day"):
                if care[f"{window}_left"] is not None:
                    key = (entry["provider"], window)
                    left[key] = left.get(key, 0) + care[f"{window}_left"]
                    if self._token_labels:
                        families[1].add_metric([entry["token"], window], care[f"{window}_left"])
            if self._token_labels:
                families[2].add_metric([entry["token"]], max(0.0, (care["next_start"] or now) - now))
                families[3].add_metric([entry["token"]], 1 if care["reduced_until"] else 0)
        for (provider, window), count in sorted(left.items()):
            families[0].add_metric([provider, window], count)
        yield from families

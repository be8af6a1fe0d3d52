"""Everything one worker shares: settings, providers and their adapters, the token pool, the HTTP session."""

from __future__ import annotations

import http.cookiejar
import logging
import threading
import time
import urllib.request
from typing import Callable, Mapping

import requests

from services.abortable import AbortableHTTPAdapter
from services.completions import Completions
from services.credentials import parse_tokens
from services.dialects.anthropic_messages import AnthropicMessages
from services.dialects.openai_responses import OpenAIResponses
from services.metrics import MeteredPool, Metrics
from services.providers.deepseek_web.drift import Drift, DriftCollector
from services.providers.openai_compatible import OpenAICompatible
from services.providers.registry import Provider, Registry
from services.relay import Relay
from services.settings import Settings
from services.store.state import SharedState
from services.token_check import TokenChecker
from services.tools.emulation import ToolEmulation
from services.usage import TokenCounter

log = logging.getLogger("freeseek")
# Seconds before the platform's kill at which answers still running are cancelled upstream.
SHUTDOWN_MARGIN = 4.0


def http_session(settings: Settings) -> requests.Session:
    """A session sized for many concurrent streams, that never keeps one user's cookies for another."""
    session = requests.Session()
    # Abortable: a deadline or a departed client can stop an attempt in any phase (services/abortable.py).
    adapter = AbortableHTTPAdapter(pool_connections=32, pool_maxsize=settings.http_pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    # Reading proxy variables and ~/.netrc on every call cost about 6% of a request's CPU: do it only when
    # the environment names a proxy (our own Authorization header always wins over .netrc anyway).
    session.trust_env = bool(urllib.request.getproxies())
    return session


def build_adapter(provider: Provider, http: requests.Session, settings: Settings, state: SharedState,
                  drift=None):
    """The adapter object that speaks this provider's protocol, with tools emulated if it has none."""
    if provider.adapter == "deepseek-web":
        from services.providers.deepseek_web.adapter import WebChat
        adapter = WebChat(provider, http, settings, state.conversations(provider.name), drift)
    else:
        adapter = OpenAICompatible(provider, http, settings)
    return ToolEmulation(adapter, state.recollection(provider.name)) if provider.tools == "emulated" else adapter


class Gateway:
    """Builds and holds the services of one worker process."""

    def __init__(self, settings: Settings, provider_overrides: Mapping[str, dict] | None = None,
                 state: SharedState | None = None):
        self.settings = settings
        self.state = state or SharedState(settings)
        self.started_at = int(time.time())
        self.registry = Registry.load(settings.providers_file, provider_overrides)
        self.http = http_session(settings)
        self.web_drift = Drift()  # shapes the web chat sent that the web provider does not know
        self.adapters = {name: build_adapter(self.registry.get(name), self.http, settings, self.state,
                                             self.web_drift) for name in self.registry.names()}
        if any(self.registry.get(name).adapter == "deepseek-web" for name in self.registry.names()):
            from services.providers.deepseek_web.pow import warm
            warm()  # before serving, in the worker's main greenlet (about 0.03 s and 20 MB of wasmtime)
        self.pool = self.state.pool(self._concurrency_limit, self._paced)
        self.counter = TokenCounter()
        self.server_tokens = parse_tokens(settings.tokens, self.registry) if settings.tokens else []
        self.metrics = Metrics(self.pool_view, settings.metrics_token_labels)
        self.metrics.registry.register(DriftCollector(self.web_drift))
        self.relay = Relay(settings, MeteredPool(self.pool, self.metrics), self.adapters.__getitem__)
        self.completions = Completions(settings, self.registry, self.relay, self.counter, self.metrics)
        # The dialects besides OpenAI Chat (whose body already is the internal call).
        self.anthropic = AnthropicMessages(settings.claude_model_map, self.counter, settings.count_tokens_max_bytes)
        self.responses = OpenAIResponses(self.state.responses(), self.state.keys.caller,
                                         self.metrics.response_not_stored)
        self.token_checker = TokenChecker(self.registry, self.adapters.__getitem__, self.pool)

    def watch_shutdown(self, alive: Callable[[], bool], grace: float) -> None:
        """Once the worker stops taking requests, let open answers finish until shortly before the grace
        period ends, then cancel the rest upstream, so the platform's kill finds no account leased."""
        def drain() -> None:
            while alive():
                time.sleep(0.5)
            log.info("shutting down: %d answers in flight get %g s to finish", len(self.relay.runs),
                     max(0.0, grace - SHUTDOWN_MARGIN))
            deadline = time.monotonic() + max(0.0, grace - SHUTDOWN_MARGIN)
            while self.relay.runs and time.monotonic() < deadline:
                time.sleep(0.2)
            self.shutdown()
        threading.Thread(target=drain, name="shutdown-drain", daemon=True).start()

    def shutdown(self) -> None:
        """Cancel answers still running (stop_stream for web ones), wait briefly for those calls, free leases."""
        runs = list(self.relay.runs)
        for run in runs:
            run.cancel()
        if runs:
            log.info("shutting down: cancelled %d answers still in flight", len(runs))
        deadline = time.monotonic() + SHUTDOWN_MARGIN / 2
        while (self.relay.runs or self._stopping()) and time.monotonic() < deadline:
            time.sleep(0.05)
        release_all = getattr(self.pool, "release_all", None)
        if release_all is not None:
            release_all()

    def _stopping(self) -> list:
        return [t for adapter in self.adapters.values() for t in list(getattr(adapter, "stopping", ()))]

    def pool_view(self) -> list[dict]:
        """The health of the server-held tokens, for metrics."""
        return self.pool.view(self.server_tokens)

    def pool_for(self, authorization: str | None) -> list[dict]:
        """The health of the server-held tokens to a holder of an API key, or of the caller's own tokens
        on a server that holds none (401 without credentials, as for a chat request)."""
        return self.pool.view(self.completions.tokens_for(authorization))

    def _paced(self, token) -> bool:
        """Whether the token is a web-chat account, which gets a person's pace (services/pacing.py)."""
        return self.registry.has(token.provider) and self.registry.get(token.provider).adapter == "deepseek-web"

    def _concurrency_limit(self, token) -> int:
        """Answers at once per account: the provider's own limit (deepseek-web's comes from settings)."""
        provider = self.registry.get(token.provider)
        if provider.adapter == "deepseek-web" and not provider.concurrency:
            return self.settings.web_account_concurrency
        return provider.concurrency

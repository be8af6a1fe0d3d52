"""Everything one worker shares: settings, providers and their adapters, the token pool, the HTTP session."""

from __future__ import annotations

import http.cookiejar
import time
import urllib.request
from typing import Mapping

import requests

from services.abortable import AbortableHTTPAdapter
from services.completions import Completions
from services.credentials import parse_tokens
from services.dialects.anthropic_messages import AnthropicMessages
from services.dialects.openai_responses import OpenAIResponses
from services.metrics import MeteredPool, Metrics
from services.pool import TokenPool
from services.providers.openai_compatible import OpenAICompatible
from services.providers.registry import Provider, Registry
from services.relay import Relay
from services.settings import Settings
from services.store.memory import MemoryStore
from services.token_check import TokenChecker
from services.tools.emulation import ToolEmulation
from services.usage import TokenCounter


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


def build_adapter(provider: Provider, http: requests.Session, settings: Settings):
    """The adapter object that speaks this provider's protocol, with tools emulated if it has none."""
    if provider.adapter == "deepseek-web":
        from services.providers.deepseek_web.adapter import WebChat
        adapter = WebChat(provider, http, settings)
    else:
        adapter = OpenAICompatible(provider, http, settings)
    return ToolEmulation(adapter) if provider.tools == "emulated" else adapter


class Gateway:
    """Builds and holds the services of one worker process."""

    def __init__(self, settings: Settings, provider_overrides: Mapping[str, dict] | None = None):
        self.settings = settings
        self.started_at = int(time.time())
        self.registry = Registry.load(settings.providers_file, provider_overrides)
        self.http = http_session(settings)
        self.adapters = {name: build_adapter(self.registry.get(name), self.http, settings)
                         for name in self.registry.names()}
        if any(self.registry.get(name).adapter == "deepseek-web" for name in self.registry.names()):
            from services.providers.deepseek_web.pow import warm
            warm()  # before serving, in the worker's main greenlet (about 0.7 s and 100 MB of numba)
        self.pool = TokenPool(limit_for=self._concurrency_limit)
        self.counter = TokenCounter()
        self.server_tokens = parse_tokens(settings.tokens, self.registry) if settings.tokens else []
        self.metrics = Metrics(self.pool_view)
        self.relay = Relay(settings, MeteredPool(self.pool, self.metrics), self.adapters.__getitem__)
        self.completions = Completions(settings, self.registry, self.relay, self.counter, self.metrics)
        # The dialects besides OpenAI Chat (whose body already is the internal call).
        self.anthropic = AnthropicMessages(settings.claude_model_map, self.counter)
        self.responses = OpenAIResponses(MemoryStore(settings.response_store_seconds, settings.response_store_max))
        self.token_checker = TokenChecker(self.registry, self.adapters.__getitem__, self.pool)

    def pool_view(self) -> list[dict]:
        """The health of the server-held tokens, for metrics."""
        return self.pool.view(self.server_tokens)

    def pool_for(self, authorization: str | None) -> list[dict]:
        """The health of the server-held tokens to a holder of an API key, or of the caller's own tokens
        on a server that holds none (401 without credentials, as for a chat request)."""
        return self.pool.view(self.completions.tokens_for(authorization))

    def _concurrency_limit(self, token) -> int:
        """Answers at once per account: the provider's own limit (deepseek-web's comes from settings)."""
        provider = self.registry.get(token.provider)
        if provider.adapter == "deepseek-web" and not provider.concurrency:
            return self.settings.web_account_concurrency
        return provider.concurrency

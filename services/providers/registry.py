"""The providers the gateway knows: built-ins from builtin.toml, overridden or extended by the owner's file."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from services.errors import BadRequest
from services.models import ALIASES, ModelRequest
from services.settings import ConfigError

BUILTIN_FILE = Path(__file__).with_name("builtin.toml")
ADAPTERS = ("openai", "deepseek-web")
TOOL_MODES = ("native", "emulated")
# What each adapter does with tools unless its table says: the web chat has no tool API, so it can only emulate.
DEFAULT_TOOLS = {"openai": "native", "deepseek-web": "emulated"}
# Secrets that match no provider's prefix are web-chat tokens, as in the original gateway.
FALLBACK_PROVIDER = "deepseek-web"


@dataclass(frozen=True)
class ModelTarget:
    """The upstream model id for one capability, plus body fields that select it (e.g. `thinking`)."""

    model: str
    body: Mapping = field(default_factory=dict)


@dataclass(frozen=True)
class Provider:
    """One upstream service, described entirely by data."""

    name: str
    base_url: str
    adapter: str = "openai"
    chat_path: str = "/chat/completions"
    key_prefixes: tuple[str, ...] = ()
    models: Mapping[str, ModelTarget] = field(default_factory=dict)
    capabilities: frozenset[str] = frozenset({"chat", "reasoning"})
    check_url: str = "/models"
    headers: Mapping[str, str] = field(default_factory=dict)
    concurrency: int = 0
    tools: str = "native"     # "emulated": the upstream has no tools, the gateway prompts and parses for it

    def url(self, path_or_url: str) -> str:
        """Resolve a path under the base URL (absolute URLs are kept)."""
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return self.base_url.rstrip("/") + "/" + path_or_url.lstrip("/")

    @property
    def takes_any_name(self) -> bool:
        """An API upstream decides itself about a name the gateway does not know; the web chat has no model ids."""
        return self.adapter != "deepseek-web"

    def serves(self, model: ModelRequest) -> bool:
        """Tell whether this provider can answer a request for the model."""
        if model.alias:
            return model.needs <= self.capabilities
        if self.adapter == "deepseek-web":
            return not model.search or "search" in self.capabilities
        return True

    def target(self, model: ModelRequest) -> ModelTarget:
        """Map a requested name to this provider's model id (unknown names go through unchanged)."""
        if model.alias and model.capability in self.models:
            return self.models[model.capability]
        return ModelTarget(model.name)


class Registry:
    """Look providers up by name, by the shape of a secret, or by what they can serve."""

    def __init__(self, providers: Mapping[str, Provider]):
        self._providers = dict(providers)

    @classmethod
    def load(cls, owner_file: str = "", overrides: Mapping[str, dict] | None = None) -> "Registry":
        """Build the registry from the built-ins, the owner's TOML file and (in tests) extra tables."""
        tables = _read(BUILTIN_FILE)
        if owner_file:
            _merge(tables, _read(Path(owner_file)))
        if overrides:
            _merge(tables, {name: dict(table) for name, table in overrides.items()})
        return cls({name: _provider(name, table) for name, table in tables.items()})

    def has(self, name: str) -> bool:
        """Tell whether a provider of that name is configured."""
        return name in self._providers

    def get(self, name: str) -> Provider:
        """Return the provider of that name."""
        return self._providers[name]

    def names(self) -> list[str]:
        """Every configured provider name."""
        return list(self._providers)

    def provider_for_secret(self, secret: str) -> str:
        """Recognise a provider from a secret's prefix (the longest prefix wins)."""
        best, best_len = FALLBACK_PROVIDER, 0
        for provider in self._providers.values():
            for prefix in provider.key_prefixes:
                if secret.startswith(prefix) and len(prefix) > best_len:
                    best, best_len = provider.name, len(prefix)
        return best

    def resolve(self, model: ModelRequest, given: set[str], strict: bool = False) -> tuple[ModelRequest, list[str]]:
        """The model as tokens of the `given` providers will serve it, and the providers that serve it
        (the README's rule for model names)."""
        providers = self._providers.values()
        if model.alias:   # our names: every provider that has the capability
            return model, [p.name for p in providers if p.serves(model)]
        owners = [p.name for p in providers if any(t.model == model.name for t in p.models.values())]
        if set(owners) & given:   # a provider's own model id, to that provider
            return model, owners
        if strict:
            served_by = f" It is {', '.join(owners)}'s own model id, and no token of {', '.join(owners)} was given." \
                if owners else ""
            raise BadRequest(f"Model '{model.name}' is not served here: this gateway answers only the names "
                             f"GET /v1/models lists (FREESEEK_STRICT_MODELS is on).{served_by}",
                             param="model", code="model_not_found")
        # Any other name: an API upstream gets it unchanged and decides; only without one, the web chat
        # answers it as ours and says so.
        passing = [p.name for p in providers if p.takes_any_name and p.name in given and p.serves(model)]
        if passing:
            return model, passing
        ours = model.as_ours()
        return ours, [p.name for p in providers if not p.takes_any_name and p.serves(ours)]

    def model_names(self) -> list[tuple[str, str]]:
        """Every model name the gateway answers to, with who serves it, for /v1/models."""
        capabilities = set().union(*(p.capabilities for p in self._providers.values())) if self._providers else set()
        listed = [(name, "freeseek") for group, names in ALIASES.items() if group in capabilities for name in names]
        seen = {name for name, _ in listed}
        for provider in self._providers.values():
            for target in provider.models.values():
                if target.model not in seen:
                    seen.add(target.model)
                    listed.append((target.model, provider.name))
        return listed


def _read(path: Path) -> dict:
    """Read the `[providers.*]` tables of a TOML file."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"FREESEEK_PROVIDERS_FILE: cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"FREESEEK_PROVIDERS_FILE: {path} is not valid TOML: {exc}") from None
    providers = data.get("providers", {})
    if not isinstance(providers, dict) or not all(isinstance(t, dict) for t in providers.values()):
        raise ConfigError(f"{path}: expected [providers.NAME] tables")
    return providers


def _merge(tables: dict, extra: dict) -> None:
    """Lay the owner's tables over the built-ins; a `models` table merges per capability."""
    for name, table in extra.items():
        if name not in tables:
            if "base_url" not in table:
                raise ConfigError(f"provider '{name}' is new, so it needs a base_url")
            tables[name] = dict(table)
            continue
        merged = dict(tables[name])
        for key, value in table.items():
            if key == "models" and isinstance(value, dict):
                merged["models"] = {**merged.get("models", {}), **value}
            else:
                merged[key] = value
        tables[name] = merged


def _provider(name: str, table: dict) -> Provider:
    """Validate one provider table and turn it into a Provider."""
    known = {"base_url", "adapter", "chat_path", "key_prefixes", "models", "capabilities", "check_url",
             "headers", "concurrency", "tools"}
    unknown = set(table) - known
    if unknown:
        raise ConfigError(f"provider '{name}': unknown keys {sorted(unknown)} (known: {sorted(known)})")
    if ":" in name or "," in name:
        raise ConfigError(f"provider name '{name}' may not contain ':' or ','")
    adapter = table.get("adapter", "openai")
    if adapter not in ADAPTERS:
        raise ConfigError(f"provider '{name}': adapter must be one of {ADAPTERS}")
    tools = table.get("tools", DEFAULT_TOOLS[adapter])
    if tools not in TOOL_MODES:
        raise ConfigError(f"provider '{name}': tools must be one of {TOOL_MODES}")
    if adapter == "deepseek-web" and tools != "emulated":
        # Native tools would be dropped on the way to the web chat without a word.
        raise ConfigError(f"provider '{name}': the deepseek-web adapter has no native tools; leave `tools` out "
                          "or set it to \"emulated\"")
    base_url = str(table.get("base_url", ""))
    if not base_url.startswith(("http://", "https://")):
        raise ConfigError(f"provider '{name}': base_url must be an http(s) URL")
    models = {}
    for capability, target in table.get("models", {}).items():
        if isinstance(target, str):
            models[capability] = ModelTarget(target)
        elif isinstance(target, dict) and isinstance(target.get("model"), str):
            body = {k: v for k, v in target.items() if k != "model"}
            models[capability] = ModelTarget(target["model"], body)
        else:
            raise ConfigError(f"provider '{name}': models.{capability} must be a model id or {{model = ...}}")
    return Provider(
        name=name,
        base_url=base_url,
        adapter=adapter,
        chat_path=str(table.get("chat_path", "/chat/completions")),
        key_prefixes=tuple(table.get("key_prefixes", ())),
        models=models,
        capabilities=frozenset(table.get("capabilities", ("chat", "reasoning"))),
        check_url=str(table.get("check_url", "/models")),
        headers={str(k): str(v) for k, v in table.get("headers", {}).items()},
        concurrency=int(table.get("concurrency", 0)),
        tools=tools,
    )

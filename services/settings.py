"""Every FREESEEK_* environment variable, parsed and validated once."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field, fields
from typing import Mapping


class ConfigError(Exception):
    """The environment describes a server that must not start."""


@dataclass(frozen=True)
class Settings:
    """What the operator configured; defaults are what zero configuration means."""

    # Server-held tokens (comma separated, like a Bearer header) and the keys clients must then present.
    tokens: str = ""
    api_keys: tuple[str, ...] = ()
    providers_file: str = ""
    # Seconds from the request's start before the first keep-alive, which only goes out once an upstream
    # accepted (so quick errors still get a real HTTP status), then between them.
    first_heartbeat: float = 10.0
    heartbeat: float = 15.0
    # Upstream deadlines, in seconds; each is named in the error it causes.
    connect_timeout: float = 10.0
    first_content_timeout: float = 120.0
    idle_timeout: float = 120.0
    total_timeout: float = 1800.0
    # How long a request may wait for a busy account before a 429.
    queue_timeout: float = 60.0
    # How long a request may go before its status is sent while no upstream has accepted it (queue,
    # cooldown, failover): under Heroku's 30 s to the first byte. When spent, the real error is the status.
    precommit_seconds: float = 20.0
    # The longest rest an upstream's Retry-After (or "wait N seconds") may give a token.
    max_retry_after_seconds: float = 3600.0
    max_body_bytes: int = 10 * 1024 * 1024
    # Model names: unknown ones are served as the README's rule says (off), or refused with a 400 (on).
    strict_models: bool = False
    # Idle upstream connections kept per host and worker; as many as a worker holds streams.
    http_pool_size: int = 10000
    log_level: str = "INFO"
    # Shared state for several workers and instances (empty: one worker, state in memory), and how long an
    # account lease lives unless its holder renews it (a killed worker frees its accounts after this).
    redis_url: str = ""
    redis_lease_seconds: float = 10.0
    # Redis connections per worker process for its short calls (a call past them waits for a free one), besides
    # the one a process's pub/sub listener holds.
    redis_max_connections: int = 32
    # The secret per-token and per-caller state is keyed under (HMAC-SHA256); empty: generated and kept in
    # Redis (or per process without Redis).
    state_secret: str = field(default="", repr=False)
    # Origins whose pages may call the API from a browser ("*": any; credentials are Bearer tokens, never cookies).
    cors_origins: tuple[str, ...] = ("*",)
    # deepseek-web: answers at once per account, and session clean-up.
    web_account_concurrency: int = 1
    web_delete_sessions: bool = True
    web_session_idle_seconds: float = 1800.0
    # deepseek-web account care (README "Account care"): a person's pace per account, smaller for a while
    # after a mute or ban; one long-lived session per account instead of one per request; deletions paced.
    web_min_gap_seconds: float = 6.0
    web_gap_jitter_seconds: float = 6.0
    web_hourly_budget: int = 30
    web_daily_budget: int = 200
    web_penalty_factor: float = 0.5
    web_penalty_days: float = 7.0
    web_reuse_session: bool = False
    web_delete_gap_seconds: float = 3.0
    # deepseek-web: the client identity and the completion's fixed fields. The web chat refuses or degrades
    # old clients, so a new client release is a change here, not a new gateway release.
    web_client_version: str = "2.5.0"
    web_client_locale: str = "en_US"
    web_timezone_offset: int = 0
    web_user_agent: str = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                           "Chrome/142.0.0.0 Safari/537.36")
    web_model_type: str = "default"
    web_expert_model_type: str = "expert"
    web_completion_fields: str = '{"action": null, "preempt": false, "source": "input"}'
    # deepseek-web: continuing answers the service cut (INCOMPLETE), and files sent with a request.
    web_continue_rounds: int = 3
    web_continue_pause: float = 3.0    # the web client's own auto_resume_ms
    web_max_files: int = 10
    web_max_file_bytes: int = 10 * 1024 * 1024
    web_fetch_timeout: float = 10.0
    web_upload_timeout: float = 60.0
    # deepseek-web: a folder to write redacted captures of every answer's streams to (empty: none are written).
    web_capture_dir: str = ""
    # Anthropic Messages: Claude model names -> ours, as `substring=model,...` (first match wins; empty means
    # every Claude model -> deepseek-chat, and requested thinking -> its reasoning variant).
    claude_model_map: str = ""
    # Anthropic count_tokens: the most text (UTF-8 bytes) it counts; more is a 413 (counting costs CPU).
    count_tokens_max_bytes: int = 1 << 20
    # OpenAI Responses: how long, how many and how many bytes of stored responses `previous_response_id` can
    # continue, in total and per caller (per presented credential), the same in memory and on Redis.
    response_store_seconds: float = 3600.0
    response_store_max: int = 1000
    response_store_max_bytes: int = 64 * 1024 * 1024
    response_store_caller_max: int = 100
    response_store_caller_max_bytes: int = 16 * 1024 * 1024
    # /metrics: per-account gauges labelled by short hash (off: only totals per provider).
    metrics_token_labels: bool = False

    @property
    def upstream_timeout(self) -> tuple[float, float]:
        """`requests` timeouts (connect, read) for an upstream answer: a silent socket is given up on when
        neither content deadline could still be met."""
        return self.connect_timeout, min(self.first_content_timeout, self.idle_timeout)

    @property
    def read_timeout_name(self) -> str:
        """The setting whose value is upstream_timeout's read part, for a message about it firing."""
        return _env_name("first_content_timeout" if self.first_content_timeout <= self.idle_timeout
                         else "idle_timeout")

    @property
    def web_completion_extra(self) -> dict:
        """The completion body's fixed fields (FREESEEK_WEB_COMPLETION_FIELDS, a JSON object)."""
        return json.loads(self.web_completion_fields)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        """Read the settings from the environment (or a given mapping)."""
        env = os.environ if env is None else env
        values: dict = {}
        for f in fields(cls):
            raw = env.get(_ENV_NAMES.get(f.name, "FREESEEK_" + f.name.upper()))
            if raw is None or raw.strip() == "":
                continue
            values[f.name] = _convert(f.name, raw.strip(), f.type)
        if "tokens" not in values and env.get("DEEP_SEEK_CHAT_AUTHORIZATION", "").strip():
            values["tokens"] = env["DEEP_SEEK_CHAT_AUTHORIZATION"].strip()
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Refuse configurations that would be unsafe or meaningless."""
        if self.tokens and not self.api_keys:
            raise ConfigError(
                "FREESEEK_TOKENS (or DEEP_SEEK_CHAT_AUTHORIZATION) is set but FREESEEK_API_KEYS is not: "
                "the server would be an open relay for the owner's accounts. Set FREESEEK_API_KEYS to the "
                "comma-separated keys your clients will send as 'Authorization: Bearer <key>'."
            )
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "float" and not math.isfinite(value):
                raise ConfigError(f"{_env_name(f.name)}={value!r} must be a finite number")
        for name in ("first_heartbeat", "heartbeat", "connect_timeout", "first_content_timeout",
                     "idle_timeout", "total_timeout", "redis_lease_seconds", "precommit_seconds",
                     "max_retry_after_seconds"):
            if not 0 < getattr(self, name) < float("inf"):
                raise ConfigError(f"{_env_name(name)} must be a positive number of seconds")
        if self.redis_url and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError("FREESEEK_REDIS_URL must start with redis://, rediss:// or unix://")
        try:
            if not isinstance(self.web_completion_extra, dict):
                raise ValueError
        except ValueError:
            raise ConfigError("FREESEEK_WEB_COMPLETION_FIELDS must be a JSON object") from None
        if self.web_continue_rounds < 0 or self.web_max_files < 0 or self.web_max_file_bytes < 1:
            raise ConfigError("FREESEEK_WEB_CONTINUE_ROUNDS and FREESEEK_WEB_MAX_FILES must be >= 0, "
                              "FREESEEK_WEB_MAX_FILE_BYTES >= 1")
        if self.response_store_seconds <= 0 or min(self.response_store_max, self.response_store_max_bytes,
                                                   self.response_store_caller_max,
                                                   self.response_store_caller_max_bytes) < 1:
            raise ConfigError("FREESEEK_RESPONSE_STORE_SECONDS must be positive, FREESEEK_RESPONSE_STORE_MAX, "
                              "_MAX_BYTES, _CALLER_MAX and _CALLER_MAX_BYTES >= 1")
        if self.state_secret and len(self.state_secret) < 16:
            raise ConfigError("FREESEEK_STATE_SECRET must be at least 16 characters (e.g. `openssl rand -hex 32`)")
        if min(self.web_min_gap_seconds, self.web_gap_jitter_seconds, self.web_hourly_budget,
               self.web_daily_budget, self.web_penalty_days, self.web_delete_gap_seconds) < 0:
            raise ConfigError("FREESEEK_WEB_MIN_GAP_SECONDS, FREESEEK_WEB_GAP_JITTER_SECONDS, "
                              "FREESEEK_WEB_HOURLY_BUDGET, FREESEEK_WEB_DAILY_BUDGET, FREESEEK_WEB_PENALTY_DAYS and "
                              "FREESEEK_WEB_DELETE_GAP_SECONDS must be >= 0 (0 turns a limit off)")
        if not 0 < self.web_penalty_factor <= 1:
            raise ConfigError("FREESEEK_WEB_PENALTY_FACTOR must be above 0 and at most 1")
        if self.count_tokens_max_bytes < 1:
            raise ConfigError("FREESEEK_COUNT_TOKENS_MAX_BYTES must be at least 1")
        if self.web_account_concurrency < 1:
            raise ConfigError("FREESEEK_WEB_ACCOUNT_CONCURRENCY must be at least 1")
        if self.redis_max_connections < 1:
            raise ConfigError("FREESEEK_REDIS_MAX_CONNECTIONS must be at least 1 (Redis connections per worker)")


_ENV_NAMES = {"heartbeat": "FREESEEK_HEARTBEAT_SECONDS", "first_heartbeat": "FREESEEK_FIRST_HEARTBEAT_SECONDS",
              "tokens": "FREESEEK_TOKENS", "api_keys": "FREESEEK_API_KEYS"}


def _env_name(field_name: str) -> str:
    """Name the environment variable behind a settings field."""
    return _ENV_NAMES.get(field_name, "FREESEEK_" + field_name.upper())


def _convert(name: str, raw: str, kind: str):
    """Turn one variable's text into the field's type, naming the variable when it is malformed."""
    try:
        if kind == "float":
            return float(raw)
        if kind == "int":
            return int(raw)
        if kind == "bool":
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if kind == "tuple[str, ...]":
            return tuple(part.strip() for part in raw.split(",") if part.strip())
        return raw
    except ValueError:
        raise ConfigError(f"{_env_name(name)}={raw!r} is not a valid {kind}") from None

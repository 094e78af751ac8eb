"""Settings of the service itself: Redis, the web process, webhooks in, runs, retention, the
worker and logs."""

from __future__ import annotations

from functools import cached_property
from typing import Literal

from pydantic import Field, SecretStr, field_validator

from relay_core.settings.base import CommaList, ConfigError, Group, split_commas


class RedisSettings(Group):
    # PaaS names stay as the platform sets them.
    url: str = Field("redis://localhost:6379/0", validation_alias="REDIS_URL")
    """Redis for the queue and all state: rediss:// for TLS (?ssl_ca_certs= for a private CA),
    redis+sentinel://host1:26379,host2:26379/mymaster/0 for Sentinel."""
    allow_eviction: bool = Field(False, validation_alias="ALLOW_EVICTION")
    """Start even when Redis's maxmemory-policy evicts keys (the memory guard refuses it otherwise:
    an evicted key is lost work)."""


class WebSettings(Group):
    port: int = Field(8080, validation_alias="PORT", ge=1, le=65535)
    """Port of `relay web`."""
    concurrency: int = Field(1, validation_alias="WEB_CONCURRENCY", ge=1, le=64)
    """Serving processes of `relay web` on one port (each with its own sink)."""
    api_keys: CommaList = Field(default_factory=list, validation_alias="RELAY_API_KEYS", repr=False)
    """Comma-separated bearer keys for /v1 and the dashboard: `key`, `name:key` or
    `name:key:scope+scope` (read, submit, deploy, admin). Required by `relay web`."""
    api_max_body_bytes: int = Field(32 * 1024 * 1024, validation_alias="API_MAX_BODY_BYTES")
    """Largest body of a /v1 request other than a batch or a file (413 above)."""
    metrics_token: SecretStr | None = Field(None, validation_alias="METRICS_TOKEN")
    """When set, /metrics needs `Authorization: Bearer <token>`; unset, it is open (scrapers on a
    private network)."""

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return split_commas(value)

    def require_api_keys(self) -> None:
        if not self.api_keys:
            raise ConfigError("RELAY_API_KEYS is not set: the /v1 API needs at least one key")


class WebhookSettings(Group):
    secrets: CommaList = Field(
        default_factory=list, validation_alias="EXTEND_WEBHOOK_SECRETS", repr=False
    )
    """Comma-separated `wss_...` signing secrets from Extend's webhook settings (several while
    rotating). Required by `relay web`."""
    max_age_seconds: int = Field(300, validation_alias="WEBHOOK_MAX_AGE_SECONDS", ge=1)
    """Oldest accepted x-extend-request-timestamp (60 s of future skew allowed)."""
    max_body_bytes: int = Field(
        10 * 1024 * 1024, validation_alias="WEBHOOK_MAX_BODY_BYTES", ge=1024
    )
    """Larger webhook bodies are answered 413."""
    dedupe_ttl_seconds: int = Field(
        3 * 24 * 3600, validation_alias="EVENT_DEDUPE_TTL_SECONDS", ge=60
    )
    """How long an eventId is remembered, so a redelivery is not applied twice."""
    ack_durability: Literal["memory", "aof", "replica"] = Field(
        "memory", validation_alias="WEBHOOK_ACK_DURABILITY"
    )
    """What an acknowledged webhook survives: memory (Redis has it), aof (fsynced to the append-only
    file) or replica (a replica has it)."""
    # Below the Redis client's 5 s socket timeout, so a slow fsync is a 503, never a hang.
    ack_timeout_ms: int = Field(2000, validation_alias="WEBHOOK_ACK_TIMEOUT_MS", ge=10, le=4000)
    """How long an answer waits for that durability (then 503 + Retry-After)."""
    signed_url_allowed_hosts: CommaList = Field(
        default_factory=list, validation_alias="SIGNED_URL_ALLOWED_HOSTS"
    )
    """Comma-separated hosts a signed-URL webhook payload may be fetched from (empty: none)."""
    signed_url_timeout_seconds: float = Field(
        10.0, validation_alias="SIGNED_URL_TIMEOUT_SECONDS", gt=0
    )
    """Timeout of fetching one signed-URL payload."""
    signed_url_max_bytes: int = Field(50 * 1024 * 1024, validation_alias="SIGNED_URL_MAX_BYTES")
    """Largest signed-URL payload fetched."""

    @field_validator("secrets", "signed_url_allowed_hosts", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return split_commas(value)

    @cached_property
    def secret_bytes(self) -> tuple[bytes, ...]:
        return tuple(s.encode() for s in self.secrets)

    def require_secrets(self) -> None:
        if not self.secrets:
            raise ConfigError("EXTEND_WEBHOOK_SECRETS is not set: the webhook receiver needs it")


class RunSettings(Group):
    history_limit: int = Field(20, validation_alias="RUN_HISTORY_LIMIT", ge=1, le=1000)
    """Status-history entries kept per run."""
    reconcile_after_seconds: int = Field(900, validation_alias="RECONCILE_AFTER_SECONDS", ge=1)
    """A run or chunk silent this long is asked of the platform by the worker's reconcile pass (a
    lost webhook)."""


class RetentionSettings(Group):
    # 0 (keep forever) is an explicit choice: a small managed Redis fills up within months.
    days: int = Field(30, validation_alias="RETENTION_DAYS", ge=0, le=3650)
    """Finished work (a terminal run, a completed batch, a final deploy, a dead letter) expires this
    long after it finishes; open work never does. 0 keeps all."""
    event_log_days: int = Field(3, validation_alias="EVENT_LOG_DAYS", ge=0, le=365)
    """How long applied webhook bodies are kept for GET /v1/events and replay (0: no log)."""

    @property
    def ms(self) -> int:
        return self.days * 86_400_000

    @property
    def event_log_ms(self) -> int:
        return self.event_log_days * 86_400_000


class WorkerSettings(Group):
    # Chunk jobs hold their rate-limit reservation while they wait for it, and event groups go
    # first (relay_core.redis.queue): with 20 slots, a pause in the loop cost B3 10% of the limit.
    max_jobs: int = Field(50, validation_alias="WORKER_MAX_JOBS", ge=1)
    """Concurrent jobs per worker."""
    completion_wait_seconds: int = Field(20, validation_alias="JOB_COMPLETION_WAIT_SECONDS")
    """How long a stopping worker lets its jobs finish (keep it below the platform's shutdown grace
    period)."""
    job_max_tries: int = Field(20, validation_alias="JOB_MAX_TRIES", ge=1, le=1000)
    """Tries of an event group's (and a batch completion's) job before it becomes a dead letter."""


class LogSettings(Group):
    format: Literal["text", "json"] = Field("text", validation_alias="LOG_FORMAT")
    """Log lines as text or JSON."""
    level: str = Field("INFO", validation_alias="LOG_LEVEL")
    """Lowest level logged."""

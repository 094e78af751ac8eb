"""The one settings object: built once per process from the environment and passed down."""

from __future__ import annotations

from functools import cached_property
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

CommaList = Annotated[list[str], NoDecode]
ExtendApiVersion = Literal["2026-02-09", "2025-04-21"]


class ConfigError(Exception):
    """A setting a started feature needs is missing or invalid: the process stops with one line."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    # PaaS names stay as the platform sets them.
    redis_url: str = Field("redis://localhost:6379/0", validation_alias="REDIS_URL")
    port: int = Field(8080, validation_alias="PORT", ge=1, le=65535)

    extend_webhook_secrets: CommaList = Field(
        default_factory=list, validation_alias="EXTEND_WEBHOOK_SECRETS", repr=False
    )
    relay_api_keys: CommaList = Field(
        default_factory=list, validation_alias="RELAY_API_KEYS", repr=False
    )
    webhook_max_age_seconds: int = Field(300, validation_alias="WEBHOOK_MAX_AGE_SECONDS", ge=1)
    webhook_max_body_bytes: int = Field(
        10 * 1024 * 1024, validation_alias="WEBHOOK_MAX_BODY_BYTES", ge=1024
    )
    api_max_body_bytes: int = Field(32 * 1024 * 1024, validation_alias="API_MAX_BODY_BYTES")
    event_dedupe_ttl_seconds: int = Field(
        3 * 24 * 3600, validation_alias="EVENT_DEDUPE_TTL_SECONDS", ge=60
    )
    run_history_limit: int = Field(20, validation_alias="RUN_HISTORY_LIMIT", ge=1, le=1000)
    # Finished work (a terminal run, a completed batch, a final deploy, a dead letter) expires
    # after this; open work never does. 0 (keep forever) is an explicit choice: a small managed
    # Redis fills up within months without it (issue 13).
    retention_days: int = Field(30, validation_alias="RETENTION_DAYS", ge=0, le=3650)

    extend_api_key: SecretStr | None = Field(None, validation_alias="EXTEND_API_KEY")
    extend_base_url: str = Field("https://api.extend.ai", validation_alias="EXTEND_BASE_URL")
    extend_api_version: ExtendApiVersion = Field(
        "2026-02-09", validation_alias="EXTEND_API_VERSION"
    )
    extend_timeout_seconds: float = Field(30.0, validation_alias="EXTEND_TIMEOUT_SECONDS", gt=0)
    extend_run_rps: float = Field(10.0, validation_alias="EXTEND_RUN_RPS", gt=0)
    extend_get_rps: float = Field(10.0, validation_alias="EXTEND_GET_RPS", gt=0)
    extend_write_rps: float = Field(10.0, validation_alias="EXTEND_WRITE_RPS", gt=0)
    extend_files_per_minute: int = Field(80, validation_alias="EXTEND_FILES_PER_MINUTE", ge=1)
    reconcile_after_seconds: int = Field(900, validation_alias="RECONCILE_AFTER_SECONDS", ge=1)
    # Batch fan-out (worker.batches.fanout): transient submit failures retry on this schedule.
    extend_submit_max_attempts: int = Field(
        20, validation_alias="EXTEND_SUBMIT_MAX_ATTEMPTS", ge=1, le=1000
    )
    extend_retry_base_seconds: float = Field(
        1.0, validation_alias="EXTEND_RETRY_BASE_SECONDS", ge=0
    )
    extend_retry_max_seconds: float = Field(60.0, validation_alias="EXTEND_RETRY_MAX_SECONDS", ge=0)
    batch_chunk_size: int = Field(50, validation_alias="BATCH_CHUNK_SIZE", ge=1, le=50)
    batch_max_files: int = Field(100_000, validation_alias="BATCH_MAX_FILES", ge=1)
    batch_max_body_bytes: int = Field(
        64 * 1024 * 1024, validation_alias="BATCH_MAX_BODY_BYTES", ge=1024
    )
    # When files per minute binds, a chunk carries at most its batch's share of this many
    # seconds of the budget: the most a newcomer waits behind work already sent (scheduler).
    sched_slot_seconds: float = Field(0.25, validation_alias="SCHED_SLOT_SECONDS", gt=0, le=60)
    signed_url_timeout_seconds: float = Field(
        10.0, validation_alias="SIGNED_URL_TIMEOUT_SECONDS", gt=0
    )
    signed_url_allowed_hosts: CommaList = Field(
        default_factory=list, validation_alias="SIGNED_URL_ALLOWED_HOSTS"
    )
    signed_url_max_bytes: int = Field(50 * 1024 * 1024, validation_alias="SIGNED_URL_MAX_BYTES")

    eachlabs_api_key: SecretStr | None = Field(None, validation_alias="EACHLABS_API_KEY")
    eachlabs_base_url: str = Field(
        "https://api.eachlabs.ai/v1", validation_alias="EACHLABS_BASE_URL"
    )
    xpander_api_key: SecretStr | None = Field(None, validation_alias="XPANDER_API_KEY")
    xpander_base_url: str = Field("https://api.xpander.ai", validation_alias="XPANDER_BASE_URL")
    # auto: X-API-Key on the legacy host (workflows.eachlabs.run), else Authorization: Bearer.
    eachlabs_auth: Literal["auto", "bearer", "x-api-key"] = Field(
        "auto", validation_alias="EACHLABS_AUTH"
    )
    deploy_timeout_seconds: float = Field(30.0, validation_alias="DEPLOY_TIMEOUT_SECONDS", gt=0)
    deploy_max_attempts: int = Field(8, validation_alias="DEPLOY_MAX_ATTEMPTS", ge=1, le=50)
    deploy_retry_base_seconds: float = Field(
        2.0, validation_alias="DEPLOY_RETRY_BASE_SECONDS", ge=0
    )
    deploy_retry_max_seconds: float = Field(
        120.0, validation_alias="DEPLOY_RETRY_MAX_SECONDS", ge=0
    )

    relay_rules: str | None = Field(None, validation_alias="RELAY_RULES")
    # Client side (the `relay` CLI commands that call a running web process's /v1 API).
    relay_url: str = Field("http://127.0.0.1:8080", validation_alias="RELAY_URL")
    relay_api_key: SecretStr | None = Field(None, validation_alias="RELAY_API_KEY")
    # Unset: /metrics is open (scrapers on a private network); set: Bearer METRICS_TOKEN.
    metrics_token: SecretStr | None = Field(None, validation_alias="METRICS_TOKEN")
    log_format: Literal["text", "json"] = Field("text", validation_alias="LOG_FORMAT")
    log_level: str = Field("INFO", validation_alias="LOG_LEVEL")
    # Chunk jobs hold their rate-limit reservation while they wait for it, and event groups go
    # first (relay_core.redis.queue): with 20 slots, a pause in the loop cost B3 10% of the limit.
    worker_max_jobs: int = Field(50, validation_alias="WORKER_MAX_JOBS", ge=1)
    job_completion_wait_seconds: int = Field(20, validation_alias="JOB_COMPLETION_WAIT_SECONDS")
    # Operations (issue 13): tries before an event group is dead-lettered; an evicting Redis
    # policy is refused at start unless allowed; verified webhook bodies kept this many days.
    job_max_tries: int = Field(20, validation_alias="JOB_MAX_TRIES", ge=1, le=1000)
    allow_eviction: bool = Field(False, validation_alias="ALLOW_EVICTION")
    event_log_days: int = Field(3, validation_alias="EVENT_LOG_DAYS", ge=0, le=365)

    # Issue 16: what an acknowledged webhook survives (relay_core.redis.durability), how long an
    # answer waits for it (then 503 + Retry-After), and serving processes of `relay web`.
    webhook_ack_durability: Literal["memory", "aof", "replica"] = Field(
        "memory", validation_alias="WEBHOOK_ACK_DURABILITY"
    )
    # Below the Redis client's 5 s socket timeout, so a slow fsync is a 503, never a hang.
    webhook_ack_timeout_ms: int = Field(
        2000, validation_alias="WEBHOOK_ACK_TIMEOUT_MS", ge=10, le=4000
    )
    web_concurrency: int = Field(1, validation_alias="WEB_CONCURRENCY", ge=1, le=64)

    # Notifications out (relay_core.notify). Each schedule entry is the wait before one
    # attempt, the first being the immediate try (Svix's schedule by default).
    callback_allowed_hosts: CommaList = Field(
        default_factory=list, validation_alias="CALLBACK_ALLOWED_HOSTS"
    )
    notify_retry_schedule: str = Field(
        "0,5s,5m,30m,2h,5h,10h,10h", validation_alias="NOTIFY_RETRY_SCHEDULE"
    )
    notify_timeout_seconds: float = Field(15.0, validation_alias="NOTIFY_TIMEOUT_SECONDS", gt=0)
    notify_max_in_flight: int = Field(4, validation_alias="NOTIFY_MAX_IN_FLIGHT", ge=1, le=100)
    # Files in (relay_core.batches.uploads): the largest file POST /v1/files takes (held in memory
    # while it is passed on to Extend's upload).
    upload_max_bytes: int = Field(
        50 * 1024 * 1024, validation_alias="UPLOAD_MAX_BYTES", ge=1024, le=1024 * 1024 * 1024
    )

    @field_validator(
        "extend_webhook_secrets", "relay_api_keys", "signed_url_allowed_hosts", mode="before"
    )
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @cached_property
    def webhook_secret_bytes(self) -> tuple[bytes, ...]:
        return tuple(s.encode() for s in self.extend_webhook_secrets)

    @property
    def retention_ms(self) -> int:
        return self.retention_days * 86_400_000

    @property
    def event_log_ms(self) -> int:
        return self.event_log_days * 86_400_000

    def require_webhook_secrets(self) -> None:
        if not self.extend_webhook_secrets:
            raise ConfigError("EXTEND_WEBHOOK_SECRETS is not set: the webhook receiver needs it")

    def require_api_keys(self) -> None:
        if not self.relay_api_keys:
            raise ConfigError("RELAY_API_KEYS is not set: the /v1 API needs at least one key")

    def require_extend_api_key(self) -> SecretStr:
        if self.extend_api_key is None or not self.extend_api_key.get_secret_value():
            raise ConfigError("EXTEND_API_KEY is not set: submitting runs to Extend needs it")
        return self.extend_api_key

    @field_validator("callback_allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().lower() for part in value.split(",") if part.strip()]
        return value

    @field_validator("notify_retry_schedule")
    @classmethod
    def _valid_schedule(cls, value: str) -> str:
        parse_schedule(value)
        return value

    @property
    def notify_schedule(self) -> tuple[float, ...]:
        """NOTIFY_RETRY_SCHEDULE in seconds, one entry per attempt."""
        return parse_schedule(self.notify_retry_schedule)


_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_schedule(text: str) -> tuple[float, ...]:
    """`0,5s,5m,2h` -> (0, 5, 300, 7200); a bare number is seconds."""
    out: list[float] = []
    for part in (p.strip() for p in text.split(",")):
        unit = next((u for u in ("ms", "s", "m", "h", "d") if part.endswith(u)), "")
        number = part[: len(part) - len(unit)] if unit else part
        try:
            seconds = float(number) * _UNITS.get(unit, 1.0)
        except ValueError:
            raise ValueError(f"{part!r} is not a wait such as 0, 5s, 5m or 2h") from None
        if seconds < 0 or seconds != seconds:
            raise ValueError(f"{part!r} is not a wait such as 0, 5s, 5m or 2h")
        out.append(seconds)
    if not out or len(out) > 50:
        raise ValueError("NOTIFY_RETRY_SCHEDULE needs 1 to 50 entries")
    return tuple(out)

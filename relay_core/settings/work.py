"""Settings of the work the relay does: batches (with the scheduler and files in), deploy
rules, and notifications out."""

from __future__ import annotations

from pydantic import Field, field_validator

from relay_core.settings.base import CommaList, Group, split_commas


class BatchSettings(Group):
    chunk_size: int = Field(50, validation_alias="BATCH_CHUNK_SIZE", ge=1, le=50)
    """Files per run request (the platform's cap is 50), unless a batch asks less."""
    max_files: int = Field(100_000, validation_alias="BATCH_MAX_FILES", ge=1)
    """Files per batch at most."""
    max_body_bytes: int = Field(64 * 1024 * 1024, validation_alias="BATCH_MAX_BODY_BYTES", ge=1024)
    """Largest POST /v1/batches body (413 above it); big bodies are parsed in slices."""
    # Files in (relay_core.batches.uploads): held in memory while passed on to Extend's upload.
    upload_max_bytes: int = Field(
        50 * 1024 * 1024, validation_alias="UPLOAD_MAX_BYTES", ge=1024, le=1024 * 1024 * 1024
    )
    """The largest file POST /v1/files passes on to Extend's upload (held in memory meanwhile)."""
    # Batch fan-out (worker.batches.fanout): transient submit failures retry on this schedule.
    submit_max_attempts: int = Field(
        20, validation_alias="EXTEND_SUBMIT_MAX_ATTEMPTS", ge=1, le=1000
    )
    """Tries of a chunk's run request after transient failures before its files are marked failed."""
    retry_base_seconds: float = Field(1.0, validation_alias="EXTEND_RETRY_BASE_SECONDS", ge=0)
    """First wait of a chunk's retries: base x 2^(attempt-1), jittered, capped."""
    retry_max_seconds: float = Field(60.0, validation_alias="EXTEND_RETRY_MAX_SECONDS", ge=0)
    """Longest wait between a chunk's retries."""
    slot_seconds: float = Field(0.25, validation_alias="SCHED_SLOT_SECONDS", gt=0, le=60)
    """When files per minute binds, a chunk carries at most its batch's share of this many seconds
    of the budget: the most a newcomer waits behind work already sent."""


class DeploySettings(Group):
    rules: str | None = Field(None, validation_alias="RELAY_RULES")
    """Path of the TOML deploy rules file (unset: no rules)."""
    timeout_seconds: float = Field(30.0, validation_alias="DEPLOY_TIMEOUT_SECONDS", gt=0)
    """Timeout of one platform call of a deploy."""
    max_attempts: int = Field(8, validation_alias="DEPLOY_MAX_ATTEMPTS", ge=1, le=50)
    """Tries of a deploy after transient errors before it becomes a dead letter."""
    retry_base_seconds: float = Field(2.0, validation_alias="DEPLOY_RETRY_BASE_SECONDS", ge=0)
    """First wait of a deploy's retries (exponential, jittered, Retry-After honoured)."""
    retry_max_seconds: float = Field(120.0, validation_alias="DEPLOY_RETRY_MAX_SECONDS", ge=0)
    """Longest wait between a deploy's retries."""


class NotifySettings(Group):
    allowed_hosts: CommaList = Field(
        default_factory=list, validation_alias="CALLBACK_ALLOWED_HOSTS"
    )
    """Hosts that notifications may reach over plain http or at a private or loopback address (e.g.
    127.0.0.1 for `relay listen`); all others must be public https."""
    # Each entry is the wait before one attempt, the first being the immediate try (Svix's
    # schedule by default).
    retry_schedule: str = Field(
        "0,5s,5m,30m,2h,5h,10h,10h", validation_alias="NOTIFY_RETRY_SCHEDULE"
    )
    """The wait before each attempt of a notification (ms, s, m, h, d; a bare number is seconds),
    the first being the immediate try; 1 to 50 entries."""
    timeout_seconds: float = Field(15.0, validation_alias="NOTIFY_TIMEOUT_SECONDS", gt=0)
    """Timeout of one notification post."""
    max_in_flight: int = Field(4, validation_alias="NOTIFY_MAX_IN_FLIGHT", ge=1, le=100)
    """Posts at a time to one destination, across the fleet."""

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return split_commas(value, lower=True)

    @field_validator("retry_schedule")
    @classmethod
    def _valid_schedule(cls, value: str) -> str:
        parse_schedule(value)
        return value

    @property
    def schedule(self) -> tuple[float, ...]:
        """NOTIFY_RETRY_SCHEDULE in seconds, one entry per attempt."""
        return parse_schedule(self.retry_schedule)


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

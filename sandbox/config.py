"""SandboxConfig: every knob of the sandbox, loadable from JSON or TOML and patchable at run time."""

from __future__ import annotations

import json
import secrets
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


def generate_webhook_secret() -> str:
    return "wss_" + secrets.token_urlsafe(24)


class _Model(BaseModel):
    # Typos in a config file must fail loudly rather than silently keep a default.
    model_config = ConfigDict(extra="forbid")


class ProcessingConfig(_Model):
    pending_seconds: float = Field(0.05, ge=0)
    processing_seconds: float = Field(0.2, ge=0)
    p_needs_review: float = Field(0.0, ge=0, le=1)
    p_failed: float = Field(0.0, ge=0, le=1)
    review_seconds: float = Field(0.5, ge=0)
    p_reject: float = Field(0.0, ge=0, le=1)
    auto_review: bool = True
    # Extend only sends runs to review when the workflow has a HUMAN_REVIEW step.
    review_requires_step: bool = True
    step_run_events: bool = False
    reviewer_email: str = "reviewer@sandbox.local"


class RateLimitConfig(_Model):
    get_rps: float | None = Field(None, gt=0)
    write_rps: float | None = Field(None, gt=0)
    run_rps: float | None = Field(None, gt=0)
    files_per_minute: int | None = Field(None, gt=0)
    # UNCONFIRMED whether Extend counts batch inputs against files/minute; off keeps batches usable.
    files_per_minute_counts_batch: bool = False
    send_retry_after: bool = True


class FaultConfig(_Model):
    p_500: float = Field(0.0, ge=0, le=1)
    p_429: float = Field(0.0, ge=0, le=1)
    p_latency: float = Field(0.0, ge=0, le=1)
    latency_seconds: float = Field(1.0, ge=0)
    p_commit_then_fail: float = Field(0.0, ge=0, le=1)
    commit_then_fail: Literal["drop", "delay"] = "drop"
    commit_delay_seconds: float = Field(35.0, ge=0)
    # Empty = every platform route; else only paths starting with one of these / these methods.
    only_paths: list[str] = Field(default_factory=list)
    only_methods: list[str] = Field(default_factory=list)
    # Extend's 402 USAGE_BLOCKED: run-creating requests are refused until switched off again.
    # An account state, not a random fault: only_paths/only_methods do not apply.
    usage_blocked: bool = False


class RequestLogConfig(_Model):
    # Bodies are kept for the most recent `keep_bodies` requests only, each cut at the cap.
    keep_bodies: int = Field(1000, ge=0)
    max_body_bytes: int = Field(64 * 1024, ge=0)


class WebhookDeliveryConfig(_Model):
    max_attempts: int = Field(5, ge=1)
    backoff_base_seconds: float = Field(0.05, ge=0)
    backoff_max_seconds: float = Field(30.0, ge=0)
    timeout_seconds: float = Field(30.0, gt=0)
    p_duplicate: float = Field(0.0, ge=0, le=1)
    reorder_window: int = Field(0, ge=0)
    reorder_flush_seconds: float = Field(0.2, ge=0)
    delivery_delay_seconds: float = Field(0.0, ge=0)
    p_drop: float = Field(0.0, ge=0, le=1)
    signed_url_threshold_bytes: int | None = Field(None, ge=0)
    signed_url_ttl_seconds: float = Field(3600.0, gt=0)
    concurrency: int = Field(16, ge=1)
    # None = every event type; else only these (Extend endpoints subscribe to event types).
    event_types: list[str] | None = None


class ExtendVersionSeed(_Model):
    name: str | None = None
    steps: list[dict[str, Any]] | None = None


class ExtendWorkflowSeed(_Model):
    id: str
    name: str
    steps: list[dict[str, Any]] | None = None
    versions: list[ExtendVersionSeed] = Field(default_factory=list)


class EachlabsVersionSeed(_Model):
    version_id: str
    definition: dict[str, Any] = Field(default_factory=dict)
    locked: bool = False
    production: bool = False
    allowed_to_share: bool = False


class EachlabsWorkflowSeed(_Model):
    id: str
    name: str
    slug: str | None = None
    versions: list[EachlabsVersionSeed] = Field(default_factory=list)


class XpanderWorkflowSeed(_Model):
    id: str
    name: str
    orchestration_nodes: list[dict[str, Any]] = Field(default_factory=list)
    webhook_url: str = ""
    status: Literal["ACTIVE", "DRAFT", "INACTIVE"] = "DRAFT"
    version: int = 1


class SeedWorkflows(_Model):
    extend: list[ExtendWorkflowSeed] = Field(default_factory=list)
    eachlabs: list[EachlabsWorkflowSeed] = Field(default_factory=list)
    xpander: list[XpanderWorkflowSeed] = Field(default_factory=list)


class FilesConfig(_Model):
    # Extend's upload size limit is UNCONFIRMED in its public docs: a careful guess, settable.
    max_upload_bytes: int = Field(50 * 1024 * 1024, ge=1)
    # Uploaded text files up to this size are kept, so runs on them extract their values.
    keep_text_bytes: int = Field(1024 * 1024, ge=0)


class SandboxConfig(_Model):
    extend_api_key: str = "sk_sandbox"
    eachlabs_api_key: str = "el_sandbox"
    xpander_api_key: str = "xp_sandbox"
    webhook_urls: list[str] = Field(default_factory=list)
    webhook_secret: str = Field(default_factory=generate_webhook_secret)
    seed: int = 0
    dashboard_base_url: str = "https://dashboard.extend.ai"
    processing: ProcessingConfig = Field(default_factory=ProcessingConfig)
    rate_limits: RateLimitConfig = Field(default_factory=RateLimitConfig)
    faults: FaultConfig = Field(default_factory=FaultConfig)
    webhooks: WebhookDeliveryConfig = Field(default_factory=WebhookDeliveryConfig)
    request_log: RequestLogConfig = Field(default_factory=RequestLogConfig)
    workflows: SeedWorkflows = Field(default_factory=SeedWorkflows)
    files: FilesConfig = Field(default_factory=FilesConfig)

    @classmethod
    def from_file(cls, path: Path) -> SandboxConfig:
        """Read JSON (``.json``) or TOML (anything else)."""
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
        return cls.model_validate(data)

    def patched(self, patch: dict[str, Any]) -> SandboxConfig:
        """A new config with ``patch`` deep-merged in; raises pydantic.ValidationError if invalid."""
        merged = deep_merge(self.model_dump(), patch)
        return SandboxConfig.model_validate(merged)


def deep_merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in patch.items():
        current = out.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            out[key] = deep_merge(current, value)
        else:
            out[key] = value
    return out

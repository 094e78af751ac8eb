"""The one settings object of the web and worker processes: built once per process from the
environment and passed down, grouped by concern.

Every variable keeps its name (`REDIS_URL`, `PORT`, `EXTEND_WEBHOOK_SECRETS`, ...); in code it
is read through its group: `settings.redis.url`, `settings.webhooks.secrets`,
`settings.platforms.extend.api_key`. Each field's description is the variable's documentation
(the settings reference is generated from it). The `relay` CLI's own variables (RELAY_URL,
RELAY_API_KEY) are relay_cli.config's. Secrets have no default.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from relay_core.settings.base import ConfigError, env_names, flat_sources, regroup, walk
from relay_core.settings.platforms import PlatformSettings
from relay_core.settings.service import (
    LogSettings,
    RedisSettings,
    RetentionSettings,
    RunSettings,
    WebhookSettings,
    WebSettings,
    WorkerSettings,
)
from relay_core.settings.work import BatchSettings, DeploySettings, NotifySettings

__all__ = ["ConfigError", "Settings", "env_names", "walk"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=None, extra="ignore", frozen=True, use_attribute_docstrings=True
    )

    redis: RedisSettings = Field(default_factory=RedisSettings)
    """Redis."""
    web: WebSettings = Field(default_factory=WebSettings)
    """The web process and its /v1 API."""
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    """Webhooks in: verification, dedupe, acks."""
    runs: RunSettings = Field(default_factory=RunSettings)
    """Workflow runs."""
    batches: BatchSettings = Field(default_factory=BatchSettings)
    """Batches, their scheduling and files in."""
    deploys: DeploySettings = Field(default_factory=DeploySettings)
    """Deploy rules and their calls."""
    notify: NotifySettings = Field(default_factory=NotifySettings)
    """Notifications out."""
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    """How long finished work is kept."""
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    """The worker."""
    logs: LogSettings = Field(default_factory=LogSettings)
    """Logs."""
    platforms: PlatformSettings = Field(default_factory=PlatformSettings)
    """The hosted platforms."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return flat_sources(settings_cls, init_settings)

    @model_validator(mode="before")
    @classmethod
    def _grouped(cls, data: Any) -> Any:
        return regroup(cls, data) if isinstance(data, dict) else data

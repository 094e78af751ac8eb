"""Settings of the hosted platforms the relay talks to: Extend (runs, files, deploys),
Eachlabs and xpander (deploys). API keys have no default."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from relay_core.settings.base import ConfigError, Group

ExtendApiVersion = Literal["2026-02-09", "2025-04-21"]


class ExtendSettings(Group):
    api_key: SecretStr | None = Field(None, validation_alias="EXTEND_API_KEY")
    """Extend API key: submitting batches, uploading files and `extend` deploy rules need it."""
    base_url: str = Field("https://api.extend.ai", validation_alias="EXTEND_BASE_URL")
    """Extend's API."""
    api_version: ExtendApiVersion = Field("2026-02-09", validation_alias="EXTEND_API_VERSION")
    """The x-extend-api-version new batches are sent with."""
    timeout_seconds: float = Field(30.0, validation_alias="EXTEND_TIMEOUT_SECONDS", gt=0)
    """Timeout of one Extend API call."""
    run_rps: float = Field(10.0, validation_alias="EXTEND_RUN_RPS", gt=0)
    """Run requests per second, across the fleet."""
    get_rps: float = Field(10.0, validation_alias="EXTEND_GET_RPS", gt=0)
    """Read requests per second, across the fleet."""
    write_rps: float = Field(10.0, validation_alias="EXTEND_WRITE_RPS", gt=0)
    """Other write requests (uploads, versions) per second, across the fleet."""
    files_per_minute: int = Field(80, validation_alias="EXTEND_FILES_PER_MINUTE", ge=1)
    """Files sent for processing per minute, across the fleet (shared fairly among the batches
    waiting)."""

    def require_api_key(self) -> SecretStr:
        if self.api_key is None or not self.api_key.get_secret_value():
            raise ConfigError("EXTEND_API_KEY is not set: submitting runs to Extend needs it")
        return self.api_key


class EachlabsSettings(Group):
    api_key: SecretStr | None = Field(None, validation_alias="EACHLABS_API_KEY")
    """Required by eachlabs deploy rules."""
    base_url: str = Field("https://api.eachlabs.ai/v1", validation_alias="EACHLABS_BASE_URL")
    """Eachlabs's API."""
    auth: Literal["auto", "bearer", "x-api-key"] = Field("auto", validation_alias="EACHLABS_AUTH")
    """How the key is sent: auto is X-API-Key on the legacy host (workflows.eachlabs.run), else
    Authorization: Bearer."""


class XpanderSettings(Group):
    api_key: SecretStr | None = Field(None, validation_alias="XPANDER_API_KEY")
    """Required by xpander deploy rules."""
    base_url: str = Field("https://api.xpander.ai", validation_alias="XPANDER_BASE_URL")
    """xpander's API."""


class PlatformSettings(Group):
    extend: ExtendSettings = Field(default_factory=ExtendSettings)
    """Extend."""
    eachlabs: EachlabsSettings = Field(default_factory=EachlabsSettings)
    """Eachlabs."""
    xpander: XpanderSettings = Field(default_factory=XpanderSettings)
    """xpander."""

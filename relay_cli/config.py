"""The CLI's settings: built once per command, or the process stops with one clear line.

`relay web` and `relay worker` read the service's settings (relay_core.settings); the client
commands (submit, status, deploys, dlq, ...) read only their own two variables, `CliSettings`.
Its own module so that every subcommand module can import it at the top (relay_cli.main
imports the subcommands, so they cannot import it from there).
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from relay_cli.client import Client
from relay_core.settings import ConfigError, Settings

S = TypeVar("S", bound=BaseSettings)


class CliSettings(BaseSettings):
    """The `relay` client commands' settings: which relay to call, and with which key."""

    model_config = SettingsConfigDict(
        env_file=None, extra="ignore", frozen=True, use_attribute_docstrings=True
    )

    relay_url: str = Field("http://127.0.0.1:8080", validation_alias="RELAY_URL")
    """The running relay (its web process) that the client commands call."""
    relay_api_key: SecretStr | None = Field(None, validation_alias="RELAY_API_KEY")
    """A key of that relay's RELAY_API_KEYS, sent as the client commands' bearer token."""


def _load(kind: type[S]) -> S:
    try:
        return kind()
    except ValidationError as exc:
        first = exc.errors()[0]
        names = [str(part) for part in first["loc"] if isinstance(part, str)]
        name = names[-1].upper() if names else "settings"
        raise SystemExit(f"relay: invalid configuration: {name}: {first['msg']}") from None


def load_settings() -> Settings:
    """The service's settings (relay web, relay worker), or the process stops with one line."""
    return _load(Settings)


def relay_client(command: str) -> Client:
    """The client of a command that calls a running relay's /v1 API."""
    settings = _load(CliSettings)
    if settings.relay_api_key is None:
        raise ConfigError(f"RELAY_API_KEY is not set: `relay {command}` calls the /v1 API with it")
    return Client(settings.relay_url, settings.relay_api_key.get_secret_value())

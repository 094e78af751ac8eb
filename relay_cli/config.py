"""The CLI's settings: built once per command, or the process stops with one clear line.

Its own module so that every subcommand module can import it at the top (relay_cli.main
imports the subcommands, so they cannot import it from there).
"""

from __future__ import annotations

from pydantic import ValidationError

from relay_cli.client import Client
from relay_core.settings import ConfigError, Settings


def load_settings() -> Settings:
    """Build the settings or stop the process with one clear line."""
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "settings"
        raise SystemExit(f"relay: invalid configuration: {name}: {first['msg']}") from None


def client_settings(command: str) -> Settings:
    """Settings of a command that calls a running relay's /v1 API (RELAY_URL, RELAY_API_KEY)."""
    settings = load_settings()
    if settings.relay_api_key is None:
        raise ConfigError(f"RELAY_API_KEY is not set: `relay {command}` calls the /v1 API with it")
    return settings


def relay_client(command: str) -> Client:
    """The client of a command that calls a running relay's /v1 API."""
    settings = client_settings(command)
    key = settings.relay_api_key.get_secret_value() if settings.relay_api_key else None
    return Client(settings.relay_url, key)

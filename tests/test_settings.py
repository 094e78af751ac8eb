"""Settings grouped by concern under the variables' unchanged names: the environment and
keyword arguments build the same object, every variable is documented once on its field, and
secrets have no default."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from relay_cli.config import CliSettings, load_settings, relay_client
from relay_core.settings import ConfigError, Settings, env_names, walk

SECRETS = ("_KEY", "_KEYS", "_SECRETS", "_TOKEN")


def test_each_variable_is_one_documented_field() -> None:
    names = [name for name, _, _ in [*walk(Settings), *walk(CliSettings)]]
    assert len(names) == len(set(names)), "a variable read by two fields"
    assert set(env_names(CliSettings)) == {"RELAY_URL", "RELAY_API_KEY"}
    for name, _, field in [*walk(Settings), *walk(CliSettings)]:
        assert name.isupper() and field.description, name
        if name.endswith(SECRETS):
            assert field.get_default(call_default_factory=True) in (None, []), name
    assert env_names(Settings)["REDIS_URL"] == ("redis", "url")
    assert env_names(Settings)["EXTEND_API_KEY"] == ("platforms", "extend", "api_key")


def test_environment_and_keywords_build_the_same_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    given = {
        "REDIS_URL": "redis://127.0.0.1:1/2",
        "PORT": "9000",
        "EXTEND_WEBHOOK_SECRETS": "wss_a, wss_b",
        "EXTEND_API_KEY": "sk_1",
        "NOTIFY_RETRY_SCHEDULE": "0,5s",
        "RETENTION_DAYS": "2",
    }
    from_keywords = Settings(**given)
    for name, value in given.items():
        monkeypatch.setenv(name, value)
    from_env = Settings()
    assert from_env == from_keywords
    assert from_env.redis.url == "redis://127.0.0.1:1/2" and from_env.web.port == 9000
    assert from_env.webhooks.secrets == ["wss_a", "wss_b"]
    assert from_env.platforms.extend.require_api_key() == SecretStr("sk_1")
    assert from_env.notify.schedule == (0.0, 5.0) and from_env.retention.ms == 2 * 86_400_000
    assert Settings(PORT="9001", **{"redis": {"url": "redis://x"}}).redis.url == "redis://x"


def test_the_server_and_the_cli_read_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_URL", "http://127.0.0.1:7000")
    monkeypatch.setenv("RELAY_API_KEY", "k")
    assert CliSettings().relay_url == "http://127.0.0.1:7000"
    assert "relay_url" not in str(Settings()) and relay_client("dlq").base_url.endswith(":7000")
    monkeypatch.delenv("RELAY_API_KEY")
    with pytest.raises(ConfigError, match="RELAY_API_KEY is not set"):
        relay_client("dlq")


def test_a_bad_value_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOK_ACK_TIMEOUT_MS", "5")
    with pytest.raises(SystemExit, match="invalid configuration: WEBHOOK_ACK_TIMEOUT_MS"):
        load_settings()

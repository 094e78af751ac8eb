"""Process start-up: a missing or invalid setting stops `relay` with one clear line."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from relay_core.settings import Settings


def relay(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run(
        [sys.executable, "-m", "relay_cli.main", *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"RELAY_API_KEYS": "k"}, "EXTEND_WEBHOOK_SECRETS"),
        ({"EXTEND_WEBHOOK_SECRETS": "wss_x"}, "RELAY_API_KEYS"),
        ({"EXTEND_WEBHOOK_SECRETS": "wss_x", "RELAY_API_KEYS": "k", "PORT": "eighty"}, "PORT"),
    ],
)
def test_web_refuses_to_start_with_one_line(env: dict[str, str], needle: str) -> None:
    result = relay("web", "--host", "127.0.0.1", **env)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert needle in lines[0]


def test_secrets_are_not_in_the_settings_repr() -> None:
    settings = Settings(
        EXTEND_WEBHOOK_SECRETS="wss_topsecret",
        RELAY_API_KEYS="key_topsecret",
        EXTEND_API_KEY="sk_top",
    )
    text = repr(settings) + str(settings.model_dump())
    assert "wss_topsecret" not in repr(settings)
    assert "key_topsecret" not in repr(settings)
    assert "sk_top" not in text


def test_comma_separated_lists_are_split_and_trimmed() -> None:
    settings = Settings(EXTEND_WEBHOOK_SECRETS=" wss_a , wss_b,", RELAY_API_KEYS="k1")
    assert settings.webhooks.secrets == ["wss_a", "wss_b"]


def test_relay_sandbox_launches_the_sandbox_and_stops_cleanly() -> None:
    import signal

    proc = subprocess.Popen(
        [sys.executable, "-m", "relay_cli.main", "sandbox", "--port", "0", "--seed", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("SANDBOX_READY ")
        assert '"base_url": "http://127.0.0.1:' in first
        printed: dict[str, str] = {}
        while "XPANDER_API_KEY" not in printed:  # the last of the variables it prints
            name, _, value = proc.stdout.readline().strip().partition("=")
            printed[name] = value
        assert printed["EXTEND_BASE_URL"].startswith("http://127.0.0.1:")
        assert printed["EXTEND_WEBHOOK_SECRETS"].startswith("wss_")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        if proc.stdout is not None:
            proc.stdout.close()

"""Fixtures for the deploy tests: a seeded sandbox and a relay (settings + web app) per rules file."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from ingest.app import create_app
from relay_core.settings import Settings
from sandbox import Sandbox, start_sandbox
from tests.deploy.support import deploy_settings, sandbox_config, write_rules

Relay = tuple[Settings, TestClient[Any, Any]]
MakeRelay = Callable[..., Awaitable[Relay]]


@pytest.fixture
async def sb() -> AsyncIterator[Sandbox]:
    sandbox = await start_sandbox(sandbox_config(), host="127.0.0.1", port=0)
    yield sandbox
    await sandbox.close()


@pytest.fixture
async def relay(
    redis_url: str, redis: Redis, sb: Sandbox, tmp_path: Path
) -> AsyncIterator[MakeRelay]:
    """relay(rules_text, **settings) -> (settings, web test client) aimed at the sandbox."""
    clients: list[TestClient[Any, Any]] = []

    async def make(rules: str, **overrides: Any) -> Relay:
        settings = deploy_settings(redis_url, sb, write_rules(tmp_path, rules), **overrides)
        client: TestClient[Any, Any] = TestClient(TestServer(create_app(settings)))
        await client.start_server()
        clients.append(client)
        return settings, client

    yield make
    for client in clients:
        await client.close()

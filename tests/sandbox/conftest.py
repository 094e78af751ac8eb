"""Fixtures: a sandbox on a free loopback port, an HTTP session, a webhook receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from sandbox import Sandbox, SandboxConfig, start_sandbox
from tests.sandbox.support import Receiver, base_config


@pytest.fixture
def config() -> SandboxConfig:
    return base_config()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    recv = Receiver()
    await recv.start()
    yield recv
    await recv.close()


@pytest.fixture
async def sb(config: SandboxConfig) -> AsyncIterator[Sandbox]:
    sandbox = await start_sandbox(config, host="127.0.0.1", port=0)
    yield sandbox
    await sandbox.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session

"""Shared fixtures: a real Redis (flushed per test), settings aimed at loopback, the web app."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from ingest.app import create_app
from relay_core.redis.client import connect
from relay_core.settings import Settings
from tests.support.redis_server import RedisServer
from tests.support.signing import OTHER_SECRET, SECRET
from worker.app import build_worker

API_KEY = "relay_test_key"


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """RELAY_TEST_REDIS_URL (set by .ci/run when a server is reachable), else a private one."""
    url = os.environ.get("RELAY_TEST_REDIS_URL")
    if url:
        yield url
        return
    server = RedisServer().start()
    yield server.url
    server.stop()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = connect(redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


def make_settings(redis_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "REDIS_URL": redis_url,
        "EXTEND_WEBHOOK_SECRETS": f"{SECRET},{OTHER_SECRET}",
        "RELAY_API_KEYS": API_KEY,
        # Never the public hosts: anything a test forgets to point elsewhere fails fast here.
        "EXTEND_BASE_URL": "http://127.0.0.1:9",
        "EACHLABS_BASE_URL": "http://127.0.0.1:9",
        "XPANDER_BASE_URL": "http://127.0.0.1:9",
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(redis_url: str, redis: Redis) -> Settings:
    return make_settings(redis_url)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(create_app(settings))) as test_client:
        yield test_client


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {API_KEY}"}


async def run_worker_burst(settings: Settings) -> int:
    """Run a burst worker until the queue is empty; return the number of jobs it completed.

    Without the per-minute cron: a pass that happens to fall due would count as a job (tests
    that want the reconcile pass enqueue it)."""
    worker = build_worker(settings, burst=True, cron_jobs=[])
    try:
        await worker.main()
        return worker.jobs_complete
    finally:
        await worker.close()

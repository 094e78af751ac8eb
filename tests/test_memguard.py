"""The memory guard, against private redis-servers configured the way a managed plan can be:
an evicting policy stops `relay web` / `relay worker` at start (also when CONFIG is forbidden),
and /readyz answers 503 redis_full near maxmemory, warning once at 80%, then recovers."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from ingest.app import create_app
from relay_core.redis import memguard
from relay_core.redis.client import connect
from tests.conftest import make_settings
from tests.support.redis_server import RedisServer, fill_to


def _relay(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run(
        [sys.executable, "-m", "relay_cli.main", *args],
        env={**base, "EXTEND_WEBHOOK_SECRETS": "wss_x", "RELAY_API_KEYS": "k", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def evicting() -> Iterator[RedisServer]:
    # CONFIG renamed away, as some managed plans do: the policy must be read from INFO.
    extra = ("--maxmemory-policy", "allkeys-lru", "--rename-command", "CONFIG", "")
    server = RedisServer(extra=extra).start()
    yield server
    server.stop()


@pytest.mark.parametrize("command", [["web", "--host", "127.0.0.1", "--port", "0"], ["worker"]])
def test_an_evicting_redis_stops_web_and_worker_with_one_line(
    evicting: RedisServer, command: list[str]
) -> None:
    result = _relay(*command, REDIS_URL=evicting.url)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "maxmemory-policy is allkeys-lru" in lines[0], result.stderr
    assert "ALLOW_EVICTION" in lines[0]


def test_allow_eviction_lets_the_worker_start(evicting: RedisServer) -> None:
    result = _relay("worker", "--burst", REDIS_URL=evicting.url, ALLOW_EVICTION="true")
    assert result.returncode == 0, result.stderr
    assert "allkeys-lru (allowed by ALLOW_EVICTION)" in result.stderr


async def test_the_policy_is_read_from_config_when_allowed(redis: Redis) -> None:
    assert await memguard.eviction_policy(redis) == "noeviction"
    assert await memguard.check_policy(redis, allow_eviction=False) == "noeviction"


@pytest.fixture
async def small() -> AsyncIterator[tuple[Redis, TestClient[Any, Any]]]:
    server = RedisServer().start()
    redis = connect(server.url)
    settings = make_settings(server.url)
    client: TestClient[Any, Any] = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    try:
        yield redis, client
    finally:
        await client.close()
        await redis.aclose()
        server.stop()


async def test_readyz_says_redis_full_near_maxmemory_and_recovers(
    small: tuple[Redis, TestClient[Any, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    redis, client = small
    caplog.set_level(logging.WARNING, logger="relay_core.redis.memguard")
    used = int((await redis.info("memory"))["used_memory"])
    await redis.config_set("maxmemory", used + 4 * 1024 * 1024)
    assert (await client.get("/readyz")).status == 200

    filler = await fill_to(redis, 0.85)
    assert (await client.get("/readyz")).status == 200
    assert (await client.get("/readyz")).status == 200
    warnings = [r for r in caplog.records if "of maxmemory" in r.getMessage()]
    assert len(warnings) == 1  # once, not once per probe

    filler += await fill_to(redis, 0.96)
    resp = await client.get("/readyz")
    body = await resp.json()
    assert resp.status == 503 and body["error"]["code"] == "redis_full", body
    assert resp.headers["Retry-After"]
    metrics = await (await client.get("/metrics")).text()
    assert (
        "relay_redis_max_memory_bytes" in metrics and 'relay_redis_keys{family="other"}' in metrics
    )

    await redis.delete(*filler)
    assert (await client.get("/readyz")).status == 200  # recovers by itself

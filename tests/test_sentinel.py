"""REDIS_URL=redis+sentinel://...: parsing, and the web app, arq and the CLI on a real Sentinel."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from ingest.app import create_app
from relay_core import queue, sentinel
from relay_core.redis import connect
from relay_core.settings import ConfigError
from tests.conftest import make_settings, run_worker_burst
from tests.support.procs import ROOT
from tests.support.sentinel_cluster import SentinelCluster
from tests.support.signing import event, extend_headers, run_payload


def test_a_sentinel_url_is_parsed() -> None:
    spec = sentinel.parse(
        "rediss+sentinel://u:p%40ss@h1:26379,h2:26380/mymaster/3?sentinel_password=sp"
    )
    assert spec.sentinels == [("h1", 26379), ("h2", 26380)]
    assert (spec.service, spec.db, spec.username, spec.password) == ("mymaster", 3, "u", "p@ss")
    assert spec.ssl is True
    assert spec.sentinel_password == "sp"
    plain = sentinel.parse("redis+sentinel://h1/svc")
    assert (plain.sentinels, plain.db, plain.ssl, plain.password) == (
        [("h1", 26379)],
        0,
        False,
        None,
    )
    settings = queue.redis_settings("redis+sentinel://:pw@h1:26379,h2:26379/mymaster/2")
    assert settings.sentinel is True
    assert settings.host == [("h1", 26379), ("h2", 26379)]
    assert (settings.sentinel_master, settings.database, settings.password) == ("mymaster", 2, "pw")


@pytest.mark.parametrize(
    "url", ["redis+sentinel://h1:26379", "redis+sentinel://h1:x/m", "redis+sentinel://h/m/zero"]
)
def test_a_bad_sentinel_url_is_one_clear_line(url: str) -> None:
    with pytest.raises(ConfigError, match="REDIS_URL"):
        sentinel.parse(url)


@pytest.fixture(
    scope="module",
    params=[(None, None), ("s3cret-pw", None), ("s3cret-pw", "sentinel-pw")],
    ids=["open", "password", "sentinel-password"],
)
def cluster(request: pytest.FixtureRequest) -> Iterator[SentinelCluster]:
    password, sentinel_password = request.param
    found = SentinelCluster(password=password, sentinel_password=sentinel_password).start()
    yield found
    found.stop()


async def test_web_worker_and_cli_use_the_sentinels_primary(cluster: SentinelCluster) -> None:
    settings = make_settings(cluster.url, WEBHOOK_ACK_DURABILITY="replica")
    async with TestClient(TestServer(create_app(settings))) as client:
        body = event("evt_sentinel", "workflow_run.completed", run_payload("run_s", "PROCESSED"))
        resp = await client.post("/webhooks/extend", data=body, headers=extend_headers(body))
        assert resp.status == 200
    assert await run_worker_burst(settings) == 1  # arq's Sentinel support found the job
    redis = connect(cluster.url)
    try:
        assert await redis.hget("relay:run:run_s", "s") == b"PROCESSED"
        assert (await redis.info("server"))["tcp_port"] == cluster.primary.port
    finally:
        await redis.aclose()
    env: dict[str, Any] = {"REDIS_URL": cluster.url, "PATH": "/usr/bin:/bin"}
    check = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "relay_cli.main", "worker", "--check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert "no worker health check found" in check.stdout  # the CLI reached the primary

"""REDIS_URL=redis+sentinel://...: parsing, and the web app, arq and the CLI on a real Sentinel,
open, with passwords, and over TLS (rediss+sentinel://...?ssl_ca_certs=...)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio.sentinel import MasterNotFoundError
from redis.exceptions import ConnectionError

from ingest.app import create_app
from relay_core.redis import queue, sentinel
from relay_core.redis.client import connect
from relay_core.settings import ConfigError
from tests.conftest import make_settings, run_worker_burst
from tests.support.procs import ROOT
from tests.support.redis_server import tls_binary
from tests.support.sentinel_cluster import SentinelCluster
from tests.support.signing import event, extend_headers, run_payload
from tests.support.tls_certs import make_ca


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


@pytest.fixture(scope="module")
def tls_cluster() -> Iterator[SentinelCluster]:
    """TLS everywhere, with both passwords: every option a TLS Sentinel URL carries at once."""
    if tls_binary() is None:
        pytest.skip("TLS needs redis-server on PATH (the bundled valkey-server has no TLS)")
    found = SentinelCluster(password="s3cret-pw", sentinel_password="sentinel-pw", tls=True)
    try:
        yield found.start()
    finally:
        found.stop()  # also after a failed start: its servers and certificates go


@pytest.fixture(
    scope="module",
    params=[(None, None), ("s3cret-pw", None), ("s3cret-pw", "sentinel-pw"), "tls"],
    ids=["open", "password", "sentinel-password", "tls"],
)
def cluster(request: pytest.FixtureRequest) -> Iterator[SentinelCluster]:
    if request.param == "tls":  # the one TLS cluster of the module, shared with the tests below
        yield request.getfixturevalue("tls_cluster")
        return
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
    assert await run_worker_burst(settings) == 1  # the worker found the job through the Sentinels
    redis = connect(cluster.url)
    try:
        assert await redis.hget("relay:run:run_s", "s") == b"PROCESSED"
        # The connection's server-side address: a TLS-only node's INFO says tcp_port 0.
        assert (await redis.client_info())["laddr"] == f"127.0.0.1:{cluster.primary.port}"
    finally:
        await redis.aclose()
    check = await asyncio.to_thread(_relay_cli, cluster.url)
    assert "no worker health check found" in check.stdout  # the CLI reached the primary


def _relay_cli(url: str) -> subprocess.CompletedProcess[str]:
    env: dict[str, Any] = {"REDIS_URL": url, "PATH": "/usr/bin:/bin"}
    args = [sys.executable, "-m", "relay_cli.main", "worker", "--check"]
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("trusted", ["no-ca", "wrong-ca"])
async def test_tls_sentinels_refuse_a_client_without_their_ca_at_once(
    tls_cluster: SentinelCluster, tmp_path: Path, trusted: str
) -> None:
    ca = make_ca(tmp_path, "another-ca")[0] if trusted == "wrong-ca" else None
    url = tls_cluster.url_for(ca=ca)
    started = time.monotonic()
    redis = connect(url)
    try:
        with pytest.raises(MasterNotFoundError, match="certificate verify failed"):
            await redis.ping()
    finally:
        await redis.aclose()
    with pytest.raises(MasterNotFoundError, match="certificate verify failed"):
        await queue.arq_pool(url)  # the worker's pool
    assert time.monotonic() - started < 10  # refused, not timed out
    check = await asyncio.to_thread(_relay_cli, url)
    assert check.returncode == 1
    assert check.stderr.startswith("relay: cannot connect to the Redis of REDIS_URL: No master")
    assert "certificate verify failed" in check.stderr and check.stderr.count("\n") == 1


async def test_sentinels_on_a_plain_port_and_a_tls_primary(tls_cluster: SentinelCluster) -> None:
    """sentinel_ssl=false: the Sentinels answer in plain text, the CA serves the primary."""
    assert tls_cluster.tls is not None
    for ca in (tls_cluster.tls.ca, None):
        url = tls_cluster.url_for(ca=ca, plain_sentinels=True)
        redis = connect(url)
        pool = None
        try:
            if ca is None:  # the Sentinels named the primary; its certificate is refused
                with pytest.raises(ConnectionError, match="certificate verify failed"):
                    await redis.ping()
                continue
            assert await redis.ping()
            pool = await queue.arq_pool(url)
            assert await pool.ping()
        finally:
            await redis.aclose()
            if pool is not None:
                await pool.aclose()


def test_a_missing_ca_file_stops_the_cli_with_one_line() -> None:
    url = "rediss+sentinel://127.0.0.1:1/mymaster?ssl_ca_certs=/nonexistent/ca.pem"
    check = _relay_cli(url)
    assert check.returncode == 2
    assert check.stderr == (
        "relay: REDIS_URL: ssl_ca_certs='/nonexistent/ca.pem' is not a readable file\n"
    )

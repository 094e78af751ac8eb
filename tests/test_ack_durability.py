"""WEBHOOK_ACK_DURABILITY: the server is checked at start, and an answer waits for the mode."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis as sync_redis
from aiohttp.test_utils import TestClient, TestServer

from ingest.app import create_app
from ingest.appkeys import SINK
from relay_core.settings import ConfigError
from tests.conftest import make_settings
from tests.support.redis_server import RedisServer
from tests.support.signing import event, extend_headers, run_payload
from tests.support.wait import until, until_sync
from tests.test_startup import relay


def delivery(event_id: str) -> tuple[bytes, dict[str, str]]:
    body = event(event_id, "workflow_run.completed", run_payload(f"run_{event_id}", "PROCESSED"))
    return body, extend_headers(body)


def wait_replica_up(replica: RedisServer) -> None:
    client = sync_redis.Redis.from_url(replica.url)
    try:
        until_sync(
            lambda: client.info("replication").get("master_link_status") == "up",
            within=15,
            what="the replica synced",
        )
    finally:
        client.close()


def start_replica(primary: RedisServer, *, aof: bool) -> RedisServer:
    replica = RedisServer(
        valkey=True,
        appendfsync="everysec" if aof else None,
        extra=["--replicaof", "127.0.0.1", str(primary.port)],
    ).start()
    wait_replica_up(replica)
    return replica


@pytest.fixture
def aof_server() -> Iterator[RedisServer]:
    server = RedisServer(valkey=True, appendfsync="everysec").start()
    yield server
    server.stop()


@pytest.fixture
def plain_server() -> Iterator[RedisServer]:
    # No 5 s wait for more replicas before a full sync (the default): replicas join at once.
    server = RedisServer(valkey=True, extra=["--repl-diskless-sync-delay", "0"]).start()
    yield server
    server.stop()


async def started(url: str, mode: str, **extra: Any) -> AsyncIterator[TestClient[Any, Any]]:
    settings = make_settings(url, WEBHOOK_ACK_DURABILITY=mode, **extra)
    async with TestClient(TestServer(create_app(settings))) as client:
        yield client


async def test_aof_answers_once_the_event_is_in_the_append_only_file(
    aof_server: RedisServer,
) -> None:
    async for client in started(aof_server.url, "aof"):
        assert client.app[SINK]._ack.command[:3] == ("WAITAOF", 1, 0)
        for n in range(3):
            body, headers = delivery(f"evt_aof_{n}")
            resp = await client.post("/webhooks/extend", data=body, headers=headers)
            assert resp.status == 200
            aof = b"".join(p.read_bytes() for p in aof_server.dir.rglob("*.aof"))
            assert f"evt_aof_{n}".encode() in aof
        # a redelivery is answered (duplicate) only once durable too: same path, same wait
        resp = await client.post("/webhooks/extend", data=body, headers=headers)
        assert (await resp.json())["status"] == "duplicate"


async def refused(url: str, mode: str) -> str:
    """The one-line reason the web app gives when it refuses to start."""
    server = TestServer(create_app(make_settings(url, WEBHOOK_ACK_DURABILITY=mode)))
    with pytest.raises(ConfigError) as refusal:
        await server.start_server()
    await server.close()
    return str(refusal.value)


async def test_aof_refuses_a_server_without_appendonly(plain_server: RedisServer) -> None:
    reason = await refused(plain_server.url, "aof")
    assert reason == "WEBHOOK_ACK_DURABILITY=aof: the Redis server runs without appendonly yes"


@pytest.mark.parametrize("processes", ["1", "2"])  # the WEB_CONCURRENCY parent checks first
def test_the_web_process_refuses_with_one_line(plain_server: RedisServer, processes: str) -> None:
    result = relay(
        "web",
        "--host",
        "127.0.0.1",
        "--port",
        "1",
        REDIS_URL=plain_server.url,
        EXTEND_WEBHOOK_SECRETS="wss_x",
        RELAY_API_KEYS="k",
        WEBHOOK_ACK_DURABILITY="replica",
        WEB_CONCURRENCY=processes,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "relay: WEBHOOK_ACK_DURABILITY=replica: the Redis primary has no connected replica"
    ]


def _redis_without_waitaof() -> str | None:
    binary = shutil.which("redis-server")
    if binary is None:
        return None
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout
    major, minor = (int(n) for n in out.split("v=")[1].split(".")[:2])
    return binary if (major, minor) < (7, 2) else None


@pytest.mark.skipif(_redis_without_waitaof() is None, reason="needs a redis-server before 7.2")
async def test_aof_refuses_a_server_without_waitaof() -> None:
    server = RedisServer(appendfsync="everysec").start()
    try:
        assert "has no WAITAOF" in await refused(server.url, "aof")
    finally:
        server.stop()


@pytest.mark.parametrize(("replica_aof", "command"), [(True, "WAITAOF"), (False, "WAIT")])
async def test_replica_mode_waits_for_a_replica(
    plain_server: RedisServer, replica_aof: bool, command: str
) -> None:
    replica = start_replica(plain_server, aof=replica_aof)
    try:
        async for client in started(plain_server.url, "replica"):
            assert client.app[SINK]._ack.command[0] == command
            body, headers = delivery("evt_replica")
            resp = await client.post("/webhooks/extend", data=body, headers=headers)
            assert resp.status == 200
            on_replica = sync_redis.Redis.from_url(replica.url)
            assert on_replica.exists("relay:evt:evt_replica") == 1
            on_replica.close()
    finally:
        replica.stop()


async def test_a_wait_that_times_out_answers_503_never_200(plain_server: RedisServer) -> None:
    replica = start_replica(plain_server, aof=False)
    async for client in started(plain_server.url, "replica", WEBHOOK_ACK_TIMEOUT_MS=200):
        assert (await client.get("/readyz")).status == 200
        replica.stop()  # SIGKILL: the primary keeps the event but no replica can confirm it
        await _until_not_ready(client)  # the primary notices the lost replica
        body, headers = delivery("evt_unconfirmed")
        resp = await client.post("/webhooks/extend", data=body, headers=headers)
        assert resp.status == 503
        assert resp.headers["Retry-After"] == "1"
        assert (await resp.json())["error"]["code"] == "unavailable"
        # The platform's redelivery: refused again while no replica has it, then answered.
        resp = await client.post("/webhooks/extend", data=body, headers=headers)
        assert resp.status == 503
        replica.start()
        wait_replica_up(replica)
        resp = await client.post("/webhooks/extend", data=body, headers=headers)
        assert resp.status == 200
        assert (await resp.json())["status"] == "duplicate"
        assert (await client.get("/readyz")).status == 200
    replica.stop()


async def _until_not_ready(client: Any) -> None:
    """/readyz says no_replica once the primary has dropped the killed replica."""
    resp = await until(
        lambda: client.get("/readyz"),
        within=15,
        what="/readyz not ready without a replica",
        accept=lambda resp: resp.status == 503,
    )
    assert (await resp.json())["error"]["code"] == "no_replica"

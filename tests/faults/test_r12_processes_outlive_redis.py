"""R12: `relay web` and `relay worker` ride out a Redis restart by themselves.

A private Redis is SIGKILLed under running processes: the worker reports not ready and the web
process answers 503 (readyz and webhooks) instead of exiting; once Redis is back, both carry on
(new events are acknowledged and applied) without being restarted.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from redis.asyncio import Redis

from relay_core import keys
from relay_core.redis.client import connect
from tests.support.procs import RelayProcess
from tests.support.redis_server import RedisServer, free_port
from tests.support.signing import SECRET, event, extend_headers, run_payload
from tests.support.wait import until


@pytest.fixture
def durable_redis() -> Iterator[RedisServer]:
    server = RedisServer(durable=True).start()
    yield server
    server.stop()


async def deliver(session: aiohttp.ClientSession, port: int, n: int) -> int:
    body = event(f"evt_r12_{n}", "workflow_run.completed", run_payload(f"run_r12_{n}", "PROCESSED"))
    try:
        async with session.post(
            f"http://127.0.0.1:{port}/webhooks/extend", data=body, headers=extend_headers(body)
        ) as resp:
            return resp.status
    except aiohttp.ClientError:
        return 0


async def applied(redis: Redis, n: int) -> bool:
    try:
        return await redis.hget(keys.run(f"run_r12_{n}"), "s") == b"PROCESSED"
    except Exception:
        return False


async def ready(session: aiohttp.ClientSession, port: int) -> int:
    async with session.get(f"http://127.0.0.1:{port}/readyz") as resp:
        return resp.status


@pytest.mark.timeout(90)
async def test_web_and_worker_ride_out_a_redis_restart(
    durable_redis: RedisServer, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        "REDIS_URL": durable_redis.url,
        "PORT": str(port),
        "EXTEND_WEBHOOK_SECRETS": SECRET,
        "RELAY_API_KEYS": "k",
        "LOG_LEVEL": "WARNING",
    }
    worker_log = tmp_path / "worker.log"
    web = RelayProcess(["web", "--host", "127.0.0.1"], env, port).start()
    worker = RelayProcess(["worker"], env, output=worker_log).start()
    redis = connect(durable_redis.url)
    try:
        async with aiohttp.ClientSession() as session:
            assert await deliver(session, port, 1) == 200
            await until(lambda: applied(redis, 1))

            durable_redis.stop()  # SIGKILL under both processes
            assert await deliver(session, port, 2) == 503
            assert await ready(session, port) == 503

            async def worker_not_ready() -> bool:
                return "worker not ready" in worker_log.read_text()

            await until(worker_not_ready)
            assert worker.proc is not None and worker.proc.poll() is None
            durable_redis.start()

            async def web_ready() -> bool:
                return await ready(session, port) == 200

            await until(web_ready)

            async def delivered() -> bool:
                return await deliver(session, port, 2) == 200

            await until(delivered)
            await until(lambda: applied(redis, 2))
            assert "worker ready" in worker_log.read_text()
            for proc in (web, worker):  # the same processes, never restarted
                assert proc.proc is not None and proc.proc.poll() is None
    finally:
        await redis.aclose()
        worker.stop()
        web.kill()


@pytest.mark.timeout(60)
async def test_a_worker_started_before_redis_waits_for_it(tmp_path: Path) -> None:
    server = RedisServer()  # not started yet: the worker comes up first
    env = {"REDIS_URL": server.url, "LOG_LEVEL": "WARNING"}
    log = tmp_path / "worker.log"
    worker = RelayProcess(["worker"], env, output=log).start()
    try:

        async def waiting() -> bool:
            return "worker not ready" in log.read_text()

        await until(waiting)
        assert worker.proc is not None and worker.proc.poll() is None
        server.start()

        async def came_up() -> bool:
            redis = connect(server.url)
            try:
                return bool(await redis.exists("arq:queue:health-check"))
            finally:
                await redis.aclose()

        await until(came_up)  # the worker reports in: it is polling the queue
        assert worker.proc.poll() is None
    finally:
        worker.stop()
        server.stop()

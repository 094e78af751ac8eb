"""The worker keeps going when a connection drops at the worst moment: inside arq's WATCH.

A loopback proxy between the worker and a real Redis cuts the worker's connection the first
time it sends ZSCORE, which arq sends while it watches a job's in-progress key. redis-py
reports that as a WatchError; arq would let it end the process.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, cast

from arq.constants import in_progress_key_prefix
from arq.jobs import Job
from arq.worker import func
from redis.asyncio import Redis

from ingest.sink import EventSink
from relay_core import keys
from relay_core.redis import queue
from tests.conftest import make_settings
from tests.support.signing import event, run_payload
from tests.support.wait import until
from worker.app import build_worker
from worker.resilience import release_in_progress


class CuttingProxy:
    """Forwards bytes to Redis; cuts the first client connection that sends `needle`."""

    def __init__(self, upstream_port: int, needle: bytes) -> None:
        self.upstream_port, self.needle, self.cuts = upstream_port, needle, 0
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        back = asyncio.create_task(self._pump(up_reader, writer))
        try:
            while data := await reader.read(65536):
                if self.cuts == 0 and self.needle in data.upper():
                    self.cuts += 1
                    break  # the command never reaches Redis; the connection drops
                up_writer.write(data)
                await up_writer.drain()
        except ConnectionError:
            pass
        finally:
            back.cancel()
            for w in (writer, up_writer):
                w.close()
                with contextlib.suppress(ConnectionError):
                    await w.wait_closed()

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


@contextlib.asynccontextmanager
async def proxied(redis_url: str) -> AsyncIterator[CuttingProxy]:
    port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    proxy = CuttingProxy(port, b"ZSCORE")
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()


async def test_a_connection_cut_inside_watch_does_not_end_the_worker(
    redis_url: str, redis: Redis
) -> None:
    async with proxied(redis_url) as proxy:
        assert proxy.server is not None
        proxy_port = proxy.server.sockets[0].getsockname()[1]
        settings = make_settings(f"redis://127.0.0.1:{proxy_port}/0")
        sink = EventSink(redis, 3600)
        body = event("evt_cut", "workflow_run.completed", run_payload("run_cut", "PROCESSED"))
        assert await sink.submit("evt_cut", body) is True
        worker = build_worker(settings, handle_signals=False, poll_delay=0.01, cron_jobs=[])
        task = asyncio.create_task(worker.async_run())

        async def applied() -> bool:
            assert not task.done(), task.exception()  # the worker must not have ended
            return await redis.hget(keys.run("run_cut"), "s") == b"PROCESSED"

        await until(applied, within=20)
        assert proxy.cuts == 1
        # stop the way the batch tests' Stack stops in-process workers
        worker.allow_pick_jobs = False
        worker.burst = True
        worker.max_burst_jobs = 0
        await asyncio.wait_for(task, 30)
        await worker.close()


HELD_RUNS: list[str] = []
RELEASE = asyncio.Event()


async def held(ctx: dict[str, Any]) -> str:
    HELD_RUNS.append(ctx["job_id"])
    await RELEASE.wait()
    return "done"


async def tick(ctx: dict[str, Any]) -> str:
    return "tick"


async def test_a_job_whose_in_progress_key_a_failover_lost_is_not_started_twice(
    redis_url: str, redis: Redis
) -> None:
    """A failover can lose a running job's in-progress key (replication is asynchronous); arq
    would then start the job a second time in the same worker, beside itself, and its own
    bookkeeping fails on the second end (KeyError), dropping the job."""
    settings = make_settings(redis_url)
    functions = [func(cast(Any, held), name="held"), func(cast(Any, tick), name="tick")]
    worker = build_worker(
        settings, handle_signals=False, poll_delay=0.01, cron_jobs=[], functions=functions
    )
    pool = await queue.arq_pool(redis_url)
    HELD_RUNS.clear()
    RELEASE.clear()
    task = asyncio.create_task(worker.async_run())
    try:
        await pool.enqueue_job("held", _job_id="held-1")

        def started() -> bool:
            assert not task.done(), task.exception()
            return bool(HELD_RUNS)

        await until(started, within=20, every=0.01)
        await redis.delete(in_progress_key_prefix + "held-1")  # what the new primary lacks
        # A later job done proves the worker polled the queue (the held job in it) again.
        ticked = await pool.enqueue_job("tick", _job_id="tick-1")
        assert ticked is not None
        assert await ticked.result(timeout=20, poll_delay=0.02) == "tick"
        assert HELD_RUNS == ["held-1"]
        RELEASE.set()
        result = await Job("held-1", pool, _deserializer=queue.deserialize).result(
            timeout=20, poll_delay=0.02
        )
        assert result == "done" and HELD_RUNS == ["held-1"]
    finally:
        worker.allow_pick_jobs = False
        worker.burst = True
        worker.max_burst_jobs = 0
        RELEASE.set()
        await asyncio.wait_for(task, 30)
        await worker.close()
        await pool.aclose()


async def test_a_worker_releases_only_the_in_progress_keys_it_set(redis: Redis) -> None:
    """Once Redis is back, a worker deletes the in-progress keys of the jobs it no longer runs
    (a crash may have kept the key that started a job and lost the end). A key with more time
    left than the worker's own could have was set later, by another worker: it stays."""
    prefix = queue.IN_PROGRESS_KEY_PREFIX
    await redis.set(prefix + "mine", b"1", px=30_000)
    await redis.set(prefix + "theirs", b"1", px=50_000)
    await redis.set(prefix + "no-ttl", b"1")
    most_left = {"mine": 40_000, "theirs": 40_000, "no-ttl": 40_000, "gone": 40_000}
    assert await release_in_progress(redis, most_left) == ["mine"]
    assert await redis.exists(prefix + "mine") == 0
    assert await redis.exists(prefix + "theirs", prefix + "no-ttl") == 2

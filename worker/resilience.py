"""A worker process that outlives Redis restarts and failovers.

arq's worker lets a Redis connection error escape its poll loop, and the process exits; a PaaS
may then wait minutes before it restarts a process that keeps crashing. This worker keeps the
process: while Redis is unreachable it reports not ready (a log line; its health key expires,
so `relay worker --check` fails), retries with jittered, capped backoff, and carries on as
soon as Redis answers again. A job whose run was cut by the outage is retried: arq would leave
its in-progress key to expire (up to IN_PROGRESS_SECONDS, 50 s), so once Redis answers this
worker removes the keys of its own cut jobs and the job is picked up again at once. A worker
that cannot reach Redis at start waits for it the same way instead of exiting. A job still
running here is never started again here, even when a failover lost its in-progress key.
"""

from __future__ import annotations

import asyncio
import logging
import time

from arq import Worker
from arq.connections import ArqRedis, create_pool
from arq.constants import in_progress_key_prefix
from redis.exceptions import ConnectionError, TimeoutError, WatchError

from relay_core import retry
from relay_core.redis import queue

log = logging.getLogger(__name__)
# What a dropped or refused connection raises (redis-py wraps socket errors, arq's pool
# creation may let an OSError through); a Redis that is loading its AOF answers BusyLoading,
# a subclass of ConnectionError.
OUTAGE = (ConnectionError, TimeoutError, OSError)
# A cut job's in-progress key is ours only while it has not expired: leave the last seconds
# of it alone (another worker may already hold a new key by then).
RELEASE_MARGIN_SECONDS = 5.0


class ResilientWorker(Worker):
    redis_url: str | None = None  # set by worker.app: the pool comes from relay_core.redis.queue
    ready = False
    _outage_tries = 0
    _outage_since: float | None = None
    _cut: dict[str, float] | None = None  # job id -> when this worker started it

    async def run_job(self, job_id: str, score: int) -> None:
        started = time.monotonic()
        try:
            await super().run_job(job_id, score)
        except OUTAGE:
            # Not raised on: arq would re-raise it from the poll loop, one cut job per poll.
            # The poll's own Redis calls notice the outage; the job is retried after it.
            if self._cut is None:
                self._cut = {}
            self._cut[job_id] = started

    async def main(self) -> None:
        while self._pool is None:
            try:
                self._pool = await self._connect()
            except OUTAGE as exc:
                if self.burst:
                    raise
                await self._wait_out(exc)
        self._recovered()
        await super().main()

    async def _connect(self) -> ArqRedis:
        if self.redis_url is not None:  # through the seam: it also serves password Sentinels
            return await queue.arq_pool(
                self.redis_url,
                default_queue_name=self.queue_name,
                expires_extra_ms=self.expires_extra_ms,
            )
        return await create_pool(
            self.redis_settings,
            job_deserializer=self.job_deserializer,
            job_serializer=self.job_serializer,
            default_queue_name=self.queue_name,
            expires_extra_ms=self.expires_extra_ms,
        )

    async def _poll_iteration(self) -> None:
        try:
            await super()._poll_iteration()
            if self._cut:
                await self._release_cut_jobs()
        except (*OUTAGE, WatchError) as exc:  # a WatchError escaping arq: see start_jobs
            if self.burst:
                raise  # a burst worker (tests, one-off runs) reports the outage to its caller
            await self._wait_out(exc)
            return
        self._recovered()

    async def _release_cut_jobs(self) -> None:
        cut, self._cut = self._cut or {}, None
        mine = [
            in_progress_key_prefix + job_id
            for job_id, started in cut.items()
            if time.monotonic() - started < self.in_progress_timeout_s - RELEASE_MARGIN_SECONDS
        ]
        if mine:
            try:
                await self.pool.delete(*mine)
            except OUTAGE:
                self._cut = {**cut, **(self._cut or {})}  # kept for the next attempt
                raise
            log.warning("retrying %d jobs cut by the redis outage", len(mine))

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        # arq takes a job slot before its Redis round trips and gives it back only on the
        # paths it expects: a connection error in between would leak the slot for good.
        for job_id in job_ids:
            running = self.tasks.get(job_id.decode())
            if running is not None and not running.done():
                # Running here already: a failover lost its in-progress key (replication is
                # asynchronous), and arq would start it a second time beside itself.
                continue
            try:
                await super().start_jobs([job_id])
            except (*OUTAGE, WatchError) as exc:
                if job_id.decode() not in self.tasks:
                    self.job_counter -= 1
                    self.sem.release()
                if isinstance(exc, WatchError):
                    # arq handles the WatchError of a lost race itself; one that escapes is
                    # redis-py's report of a connection lost while watching: an outage.
                    raise ConnectionError(str(exc)) from exc
                raise
            if self.job_counter >= self.max_jobs:
                return

    async def close(self) -> None:
        # arq's Sentinel pool closes its primary's connections but not its Sentinels' clients.
        pool = self._pool
        await super().close()
        manager = getattr(pool.connection_pool, "sentinel_manager", None) if pool else None
        for client in manager.sentinels if manager else ():
            await client.aclose()

    async def _wait_out(self, exc: BaseException) -> None:
        if self._outage_since is None:
            self._outage_since = time.monotonic()
            log.warning("redis unreachable, worker not ready: %s: %s", type(exc).__name__, exc)
        self.ready = False
        self._outage_tries += 1
        await asyncio.sleep(retry.REDIS_OUTAGE.delay(self._outage_tries))

    def _recovered(self) -> None:
        self._outage_tries = 0
        if not self.ready and self._outage_since is not None:
            log.warning(
                "redis reachable again after %.1f s, worker ready",
                time.monotonic() - self._outage_since,
            )
        self.ready = True
        self._outage_since = None

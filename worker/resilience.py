"""A worker process that outlives Redis restarts and failovers.

arq's worker lets a Redis connection error escape its poll loop, and the process exits; a PaaS
may then wait minutes before it restarts a process that keeps crashing. This worker keeps the
process: while Redis is unreachable it reports not ready (a log line; its health key expires,
so `relay worker --check` fails), retries with jittered, capped backoff, and carries on as
soon as Redis answers again. A worker that cannot reach Redis at start waits for it the same
way instead of exiting. A job still running here is never started again here, even when a
failover lost its in-progress key.

Once Redis answers again, the worker deletes the in-progress keys it set for jobs it no longer
runs, so those jobs are picked up again at once rather than when the keys expire (arq's
IN_PROGRESS_SECONDS, 50 s): a job cut by the outage, and a job that ended here while the
crash lost that end. The second happens when Redis dies before its append-only file holds
what it had acknowledged (appendfsync everysec, a stalled disk; or a failover before
replication): the file keeps the key that started the job but not the writes that ended it,
so after the restart the job is queued again yet held by a key nobody will delete. Only a key
still the one this worker set is deleted (relay_core/redis/lua/release_in_progress.lua).
"""

from __future__ import annotations

import asyncio
import logging
import time

from arq import Worker
from arq.connections import ArqRedis, create_pool
from redis.exceptions import ConnectionError, TimeoutError, WatchError

from relay_core import retry
from relay_core.redis import queue, scripts

log = logging.getLogger(__name__)
# What a dropped or refused connection raises (redis-py wraps socket errors, arq's pool
# creation may let an OSError through); a Redis that is loading its AOF answers BusyLoading,
# a subclass of ConnectionError.
OUTAGE = (ConnectionError, TimeoutError, OSError)


class ResilientWorker(Worker):
    redis_url: str | None = None  # set by worker.app: the pool comes from relay_core.redis.queue
    ready = False
    _outage_tries = 0
    _outage_since: float | None = None
    _release_due = False  # a job was cut: release what this worker left held
    # job id -> when this worker set its in-progress key (monotonic), for one key lifetime
    _started: dict[str, float] | None = None

    async def run_job(self, job_id: str, score: int) -> None:
        try:
            await super().run_job(job_id, score)
        except OUTAGE:
            # Not raised on: arq would re-raise it from the poll loop, one cut job per poll.
            # The poll's own Redis calls notice the outage; the job is retried after it.
            self._release_due = True

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
            if self._release_due or self._outage_since is not None:
                await self._release_held_jobs()  # before the poll, which would skip them
            await super()._poll_iteration()
        except (*OUTAGE, WatchError) as exc:  # a WatchError escaping arq: see start_jobs
            if self.burst:
                raise  # a burst worker (tests, one-off runs) reports the outage to its caller
            await self._wait_out(exc)
            return
        self._recovered()

    async def _release_held_jobs(self) -> None:
        """Delete the in-progress keys this worker set for jobs it no longer runs (module doc)."""
        now, started = time.monotonic(), self._started or {}
        most_left: dict[str, int] = {}
        for job_id, set_at in started.items():
            left = int((self.in_progress_timeout_s - (now - set_at)) * 1000)
            task = self.tasks.get(job_id)
            if left > 0 and (task is None or task.done()):
                most_left[job_id] = left
        released = await release_in_progress(self.pool, most_left) if most_left else []
        self._release_due = False
        if released:
            log.warning(
                "released %d in-progress keys this worker set for jobs it no longer runs (cut "
                "by the redis outage, or ended and the end lost); they run again now: %s",
                len(released),
                " ".join(released[:20]),
            )

    def _note_started(self, job_id: str) -> None:
        """Remember when this worker set the job's in-progress key, for one key lifetime."""
        now = time.monotonic()
        if self._started is None:
            self._started = {}
        started = self._started
        started.pop(job_id, None)
        started[job_id] = now  # insertion order is start order: the oldest come first
        oldest = next(iter(started))
        while now - started[oldest] >= self.in_progress_timeout_s:  # ends at job_id, just set
            del started[oldest]
            oldest = next(iter(started))

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
            if self.tasks.get(job_id.decode()) is not running:  # arq set the key, started it
                self._note_started(job_id.decode())
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


async def release_in_progress(redis: ArqRedis, most_left_ms: dict[str, int]) -> list[str]:
    """Delete the in-progress keys of these jobs that are still the ones the caller set (job id
    -> the most ms such a key can have left); the ids of the jobs released. arq then starts
    them again on its next poll instead of once their keys expire."""
    released: list[str] = []
    items = list(most_left_ms.items())
    for first in range(0, len(items), 500):  # bounded scripts: Redis serves nothing meanwhile
        part = items[first : first + 500]
        found: list[bytes] = await scripts.RELEASE_IN_PROGRESS(
            redis,
            keys={"in_progress": [queue.IN_PROGRESS_KEY_PREFIX + job_id for job_id, _ in part]},
            args={"most_left_ms": [left for _, left in part]},
        )
        prefix = len(queue.IN_PROGRESS_KEY_PREFIX)
        released += [key.decode()[prefix:] for key in found]
    return released

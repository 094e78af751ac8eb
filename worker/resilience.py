"""A worker process that outlives Redis restarts and failovers.

arq's worker lets a Redis connection error escape its poll loop, and the process exits; a PaaS
may then wait minutes before it restarts a process that keeps crashing. This worker keeps the
process: while Redis is unreachable it reports not ready (a log line; its health key expires,
so `relay worker --check` fails), retries with capped exponential backoff, and carries on as
soon as Redis answers again. Jobs that were running when the connection dropped are retried
the usual way (their in-progress key expires). A worker that cannot reach Redis at start waits
for it the same way instead of exiting.
"""

from __future__ import annotations

import asyncio
import logging
import time

from arq import Worker
from arq.connections import create_pool
from redis.exceptions import ConnectionError, TimeoutError

log = logging.getLogger(__name__)
# What a dropped or refused connection raises (redis-py wraps socket errors, arq's pool
# creation may let an OSError through); a Redis that is loading its AOF answers BusyLoading,
# a subclass of ConnectionError.
OUTAGE = (ConnectionError, TimeoutError, OSError)
BACKOFF_FIRST_SECONDS = 0.1
BACKOFF_MAX_SECONDS = 5.0


class ResilientWorker(Worker):
    ready = False
    _backoff = BACKOFF_FIRST_SECONDS
    _outage_since: float | None = None

    async def main(self) -> None:
        while self._pool is None:
            try:
                self._pool = await create_pool(
                    self.redis_settings,
                    job_deserializer=self.job_deserializer,
                    job_serializer=self.job_serializer,
                    default_queue_name=self.queue_name,
                    expires_extra_ms=self.expires_extra_ms,
                )
            except OUTAGE as exc:
                if self.burst:
                    raise
                await self._wait_out(exc)
        self._recovered()
        await super().main()

    async def _poll_iteration(self) -> None:
        try:
            await super()._poll_iteration()
        except OUTAGE as exc:
            if self.burst:
                raise  # a burst worker (tests, one-off runs) reports the outage to its caller
            await self._wait_out(exc)
            return
        self._recovered()

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        # arq takes a job slot before its Redis round trips and gives it back only on the
        # paths it expects: a connection error in between would leak the slot for good.
        for job_id in job_ids:
            try:
                await super().start_jobs([job_id])
            except OUTAGE:
                if job_id.decode() not in self.tasks:
                    self.job_counter -= 1
                    self.sem.release()
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
        await asyncio.sleep(self._backoff)
        self._backoff = min(self._backoff * 2, BACKOFF_MAX_SECONDS)

    def _recovered(self) -> None:
        self._backoff = BACKOFF_FIRST_SECONDS
        if not self.ready and self._outage_since is not None:
            log.warning(
                "redis reachable again after %.1f s, worker ready",
                time.monotonic() - self._outage_since,
            )
        self.ready = True
        self._outage_since = None

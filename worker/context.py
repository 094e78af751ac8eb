"""What every job finds: one typed object, made once per worker process at start-up.

arq hands each job a dict (`ctx`) holding what on_startup put there plus the job's id and try.
`start` builds the process's resources into one WorkerContext under one key, and a job reads
it with `context(ctx)`, typed, with its own id and try filled in. `stop` closes what `start`
opened, in an order that lets nothing in flight use a closed resource.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from typing import Any

import aiohttp
from arq.connections import ArqRedis

from relay_core import retry
from relay_core.deploys.rules import RuleSet
from relay_core.notify import ssrf
from relay_core.ops import metrics
from relay_core.platforms.extend_runs import ExtendRuns, extend_client
from relay_core.runs.store import RunStore
from relay_core.scheduler.ratelimit import Limits, RateLimiter
from relay_core.scheduler.state import Scheduler
from relay_core.settings import ConfigError, Settings
from worker.batches.runcache import RunCache

KEY = "relay"


@dataclass(frozen=True, slots=True)
class WorkerContext:
    redis: ArqRedis
    settings: Settings
    rules: RuleSet
    runs: RunStore
    limiter: RateLimiter  # the fleet-wide rate limits
    scheduler: Scheduler
    run_cache: RunCache  # runs fetched by looks, shared by this process's jobs
    extend_http: aiohttp.ClientSession  # runs and signed-URL payloads
    deploy_http: aiohttp.ClientSession
    notify_http: aiohttp.ClientSession  # behind the SSRF guard's resolver
    extend_runs: ExtendRuns | None  # None: a worker for webhooks only (no EXTEND_API_KEY)
    chunk_send: retry.Policy
    deploy: retry.Policy
    flusher: asyncio.Task[None]  # the metrics' flush to Redis
    job_id: str = ""
    job_try: int = 1

    @property
    def extend(self) -> ExtendRuns:
        if self.extend_runs is None:
            raise ConfigError("EXTEND_API_KEY is not set: submitting runs to Extend needs it")
        return self.extend_runs


def context(ctx: dict[str, Any]) -> WorkerContext:
    """The job's context: the process's resources, with this job's id and try."""
    found = ctx.get(KEY)
    if not isinstance(found, WorkerContext):
        raise RuntimeError("the worker context was not started (worker.context.start)")
    job_id, job_try = str(ctx.get("job_id") or ""), int(ctx.get("job_try") or 1)
    return dataclasses.replace(found, job_id=job_id, job_try=job_try)


async def start(ctx: dict[str, Any], settings: Settings, rules: RuleSet) -> WorkerContext:
    redis: ArqRedis = ctx["redis"]
    limits = Limits.of(settings)
    extend_http = _session_without_resends()
    try:
        extend: ExtendRuns | None = ExtendRuns(
            extend_client(extend_http, settings), settings.platforms.extend.api_version
        )
    except ConfigError:
        extend = None  # fan-out jobs say why they wait
    connector = aiohttp.TCPConnector(**ssrf.connector_options(settings.notify.allowed_hosts))
    made = WorkerContext(
        redis=redis,
        settings=settings,
        rules=rules,
        runs=RunStore(redis, settings.runs.history_limit, settings.retention.ms),
        limiter=RateLimiter(redis, limits),
        scheduler=Scheduler(redis, limits, settings.batches.slot_seconds),
        run_cache=RunCache(),
        extend_http=extend_http,
        deploy_http=_session_without_resends(),
        notify_http=aiohttp.ClientSession(connector=connector),
        extend_runs=extend,
        chunk_send=retry.chunk_send(settings),
        deploy=retry.deploy(settings),
        flusher=asyncio.create_task(metrics.run_flusher(redis)),
    )
    ctx[KEY] = made
    return made


async def stop(ctx: dict[str, Any]) -> None:
    made = ctx.pop(KEY, None)
    if not isinstance(made, WorkerContext):
        return
    await made.deploy_http.close()
    await made.run_cache.close()  # before the session its fetches use is closed
    await made.extend_http.close()
    await made.notify_http.close()
    await metrics.stop_flusher(made.flusher, made.redis)  # last: counts what closing did too


def _session_without_resends() -> aiohttp.ClientSession:
    session = aiohttp.ClientSession()
    # aiohttp silently resends an "idempotent" method (PUT) once when the server drops the
    # connection: a resent run submission or xpander deploy (PUT) would happen twice, so every
    # resend must be ours, after a look. There is no public switch for it (aiohttp 3.14).
    session._retry_connection = False
    return session

"""The arq worker, configured on purpose rather than by arq's defaults."""

from __future__ import annotations

from typing import Any

from arq import Worker
from arq.cron import CronJob, cron
from arq.worker import Function, func

from relay_core.deploys.rules import load_rules
from relay_core.redis import queue
from relay_core.settings import Settings
from worker import deadletter
from worker.batches.cancel import CANCEL_JOB_TIMEOUT_SECONDS, cancel_batch
from worker.batches.dispatch import DISPATCH_JOB_TIMEOUT_SECONDS, dispatch, dispatch_startup, kick
from worker.batches.fanout import CHUNK_JOB_TIMEOUT_SECONDS, CHUNK_MAX_TRIES, submit_chunk
from worker.context import start, stop
from worker.deploys.deploy import DEPLOY_JOB_TIMEOUT_SECONDS, MAX_JOB_TRIES, run_deploy
from worker.jobmetrics import LastTry, instrument
from worker.notify import (
    NOTIFY_JOB_TIMEOUT_SECONDS,
    notify_deliver,
    notify_redrive,
    notify_startup,
)
from worker.resilience import ResilientWorker
from worker.runs.apply import apply_events, batch_completed
from worker.runs.expiry import SWEEP_JOB_TIMEOUT_SECONDS, sweep_runs
from worker.runs.reconcile import RECONCILE_JOB_TIMEOUT_SECONDS, reconcile

# Below a PaaS's shutdown grace period (Heroku 30 s); a killed job's in-progress key expires
# after its timeout + 10 s, so another worker picks it up again within a minute.
JOB_TIMEOUT_SECONDS = 40
# arq keeps one in-progress TTL for every job, the longest timeout + 10 s: the deploy job's
# 120 s would hold a killed worker's chunks for 130 s. Deploys are kept single by their own
# lease (worker.deploys.deploy), so the TTL only has to outlive the other jobs' timeouts.
IN_PROGRESS_SECONDS = (
    max(
        JOB_TIMEOUT_SECONDS,
        CHUNK_JOB_TIMEOUT_SECONDS,
        CANCEL_JOB_TIMEOUT_SECONDS,
        RECONCILE_JOB_TIMEOUT_SECONDS,
        DISPATCH_JOB_TIMEOUT_SECONDS,
        NOTIFY_JOB_TIMEOUT_SECONDS,
    )
    + 10
)
# A dispatcher dies with its lease: the timer's kick starts the next one within this period.
KICK_SECONDS = frozenset(range(0, 60, 10))


def job_functions(job_max_tries: int = 20) -> list[Function]:
    return [
        func(apply_events, name=queue.APPLY_EVENTS, max_tries=job_max_tries),
        func(batch_completed, name=queue.BATCH_COMPLETED, max_tries=job_max_tries),
        func(
            run_deploy,
            name=queue.RUN_DEPLOY,
            max_tries=MAX_JOB_TRIES,
            timeout=DEPLOY_JOB_TIMEOUT_SECONDS,
        ),
        func(
            submit_chunk,
            name=queue.SUBMIT_CHUNK,
            max_tries=CHUNK_MAX_TRIES,
            timeout=CHUNK_JOB_TIMEOUT_SECONDS,
        ),
        func(
            cancel_batch,
            name=queue.CANCEL_BATCH,
            max_tries=100,
            timeout=CANCEL_JOB_TIMEOUT_SECONDS,
        ),
        func(
            dispatch,
            name=queue.DISPATCH,
            max_tries=1000,
            timeout=DISPATCH_JOB_TIMEOUT_SECONDS,
        ),
        func(
            reconcile,
            name=queue.RECONCILE,
            max_tries=3,
            timeout=RECONCILE_JOB_TIMEOUT_SECONDS,
        ),
        # Retries are its own deferred jobs (NOTIFY_RETRY_SCHEDULE); arq's tries only count
        # the short waits for a free slot of a busy destination.
        func(notify_redrive, name=queue.NOTIFY_REDRIVE, max_tries=20),
        func(
            notify_deliver,
            name=queue.NOTIFY_DELIVER,
            max_tries=10_000,
            timeout=NOTIFY_JOB_TIMEOUT_SECONDS,
        ),
    ]


def cron_jobs() -> list[CronJob]:
    # Every minute; unique, so only one worker of the fleet runs each pass.
    return [
        cron(
            reconcile,
            name="cron:" + queue.RECONCILE,
            second=7,
            timeout=RECONCILE_JOB_TIMEOUT_SECONDS,
            max_tries=1,
        ),
        cron(
            sweep_runs,
            name="cron:run-expiry",
            second=37,
            timeout=SWEEP_JOB_TIMEOUT_SECONDS,
            max_tries=1,
        ),
        cron(
            kick,
            name="cron:sched-kick",
            second=set(KICK_SECONDS),
            timeout=10,
            max_tries=1,
        ),
    ]


def build_worker(settings: Settings, *, burst: bool = False, **overrides: Any) -> Worker:
    rules = load_rules(settings)  # an invalid rules file stops the worker before it starts

    async def startup(ctx: dict[str, Any]) -> None:
        wc = await start(ctx, settings, rules)
        await dispatch_startup(wc)
        await notify_startup(wc)

    async def shutdown(ctx: dict[str, Any]) -> None:
        await stop(ctx)

    options: dict[str, Any] = {
        "functions": instrument(
            job_functions(settings.worker.job_max_tries), JOB_TIMEOUT_SECONDS, 10, _last_try
        ),
        "cron_jobs": cron_jobs(),
        "redis_settings": queue.redis_settings(settings.redis.url),
        "job_serializer": queue.serialize,
        "job_deserializer": queue.deserialize,
        "on_startup": startup,
        "on_shutdown": shutdown,
        "burst": burst,
        "max_jobs": settings.worker.max_jobs,
        "job_timeout": JOB_TIMEOUT_SECONDS,
        "max_tries": 10,
        "keep_result": 300,
        # Jobs are picked at most this late (each poll is one ZRANGEBYSCORE): a chunk is queued
        # 50 ms before its slot (relay_core.scheduler), so it is running when the slot comes.
        "poll_delay": 0.02,
        "job_completion_wait": settings.worker.completion_wait_seconds,
        "health_check_interval": 10,
        "handle_signals": not burst,
    }
    options.update(overrides)
    worker = ResilientWorker(**options)  # rides out Redis restarts instead of exiting
    worker.redis_url = settings.redis.url
    worker.in_progress_timeout_s = IN_PROGRESS_SECONDS
    return worker


def _last_try(max_tries: int) -> LastTry:
    return LastTry(max_tries, deadletter.note_failure, deadletter.exhausted)


def check_health(settings: Settings) -> int:
    """Exit code for a PaaS liveness probe: 0 while a worker has reported in recently."""
    import asyncio

    from relay_core.redis.client import connect

    async def probe() -> bool:
        redis = connect(settings.redis.url)
        try:
            return bool(await redis.exists(queue.QUEUE + queue.HEALTH_CHECK_SUFFIX))
        finally:
            await redis.aclose()

    alive = asyncio.run(probe())
    print("worker is alive" if alive else "no worker health check found")
    return 0 if alive else 1

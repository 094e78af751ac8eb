"""The arq worker, configured on purpose rather than by arq's defaults."""

from __future__ import annotations

from typing import Any, cast

from arq import Worker
from arq.worker import Function, func

from relay_core import queue
from relay_core.rules import load_rules
from relay_core.runstore import RunStore
from relay_core.settings import Settings
from worker.apply import apply_events, batch_completed
from worker.deploy import (
    DEPLOY_JOB_TIMEOUT_SECONDS,
    MAX_JOB_TRIES,
    deploy_shutdown,
    deploy_startup,
    run_deploy,
)
from worker.jobmetrics import instrument, metrics_shutdown, metrics_startup

# Below a PaaS's shutdown grace period (Heroku 30 s); a killed job's in-progress key expires
# after its timeout + 10 s, so another worker picks it up again within a minute.
JOB_TIMEOUT_SECONDS = 40


def job_functions() -> list[Function]:
    # arq types a job as taking ctx first; ours are typed more precisely, hence the casts.
    return [
        func(cast(Any, apply_events), name=queue.APPLY_EVENTS, max_tries=20),
        func(cast(Any, batch_completed), name=queue.BATCH_COMPLETED, max_tries=20),
        func(
            cast(Any, run_deploy),
            name=queue.RUN_DEPLOY,
            max_tries=MAX_JOB_TRIES,
            timeout=DEPLOY_JOB_TIMEOUT_SECONDS,
        ),
    ]


def build_worker(settings: Settings, *, burst: bool = False, **overrides: Any) -> Worker:
    rules = load_rules(settings)  # an invalid rules file stops the worker before it starts

    async def startup(ctx: dict[str, Any]) -> None:
        ctx["settings"] = settings
        ctx["runs"] = RunStore(ctx["redis"], settings.run_history_limit)
        await deploy_startup(ctx, rules)
        await metrics_startup(ctx)

    async def shutdown(ctx: dict[str, Any]) -> None:
        await deploy_shutdown(ctx)
        await metrics_shutdown(ctx)  # last: counts what the deploy shutdown did too

    options: dict[str, Any] = {
        "functions": instrument(job_functions()),
        "redis_settings": queue.redis_settings(settings.redis_url),
        "job_serializer": queue.serialize,
        "job_deserializer": queue.deserialize,
        "on_startup": startup,
        "on_shutdown": shutdown,
        "burst": burst,
        "max_jobs": settings.worker_max_jobs,
        "job_timeout": JOB_TIMEOUT_SECONDS,
        "max_tries": 10,
        "keep_result": 300,
        "poll_delay": 0.05,
        "job_completion_wait": settings.job_completion_wait_seconds,
        "health_check_interval": 10,
        "handle_signals": not burst,
    }
    options.update(overrides)
    return Worker(**options)


def check_health(settings: Settings) -> int:
    """Exit code for a PaaS liveness probe: 0 while a worker has reported in recently."""
    import asyncio

    from relay_core.redis import connect

    async def probe() -> bool:
        redis = connect(settings.redis_url)
        try:
            return bool(await redis.exists(queue.QUEUE + queue.HEALTH_CHECK_SUFFIX))
        finally:
            await redis.aclose()

    alive = asyncio.run(probe())
    print("worker is alive" if alive else "no worker health check found")
    return 0 if alive else 1

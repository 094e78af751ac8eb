"""Every job timed and counted by outcome; the worker's tally flushed to Redis for /metrics."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import time
from typing import Any

from arq import Retry
from arq.typing import WorkerCoroutine
from arq.worker import Function

from relay_core import metrics

log = logging.getLogger(__name__)
_FLUSHER = "metrics_flusher"


def instrument(functions: list[Function]) -> list[Function]:
    return [dataclasses.replace(f, coroutine=timed(f.name, f.coroutine)) for f in functions]


def timed(name: str, job: WorkerCoroutine) -> WorkerCoroutine:
    @functools.wraps(job)
    async def wrapper(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        outcome = "failed"
        try:
            result = await job(ctx, *args, **kwargs)
            outcome = "ok"
            return result
        except Retry:
            outcome = "retry"
            raise
        except asyncio.CancelledError:
            outcome = "cancelled"  # arq's job timeout, or the worker stopping
            raise
        finally:
            seconds = time.perf_counter() - started
            metrics.JOBS.inc(name, outcome)
            metrics.JOB_DURATION.observe(seconds, name)
            if outcome != "ok":
                # The job's own summary line covers success; this one says why it did not end.
                log.warning(
                    "job function=%s id=%s try=%s outcome=%s ms=%.1f",
                    name,
                    ctx.get("job_id"),
                    ctx.get("job_try"),
                    outcome,
                    seconds * 1000,
                )

    return wrapper


async def metrics_startup(ctx: dict[str, Any]) -> None:
    ctx[_FLUSHER] = asyncio.create_task(metrics.run_flusher(ctx["redis"]))


async def metrics_shutdown(ctx: dict[str, Any]) -> None:
    task = ctx.pop(_FLUSHER, None)
    if task is not None:
        await metrics.stop_flusher(task, ctx["redis"])

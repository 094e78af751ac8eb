"""Every job timed, counted by outcome, and retried (not dropped) when it fails unexpectedly.

arq retries a job only when it raises Retry or is cancelled: any other exception, including
arq's own job timeout, ends the job for good. For a job holding acknowledged events that would
lose them, so the seam turns an unexpected error, and a run past the job's budget (a little
under arq's timeout), into a Retry with backoff. Every job is idempotent, so running it again
is safe. On the last of arq's max_tries, a job that fails again is dead-lettered
(worker.deadletter) and ends, instead of being dropped by arq or re-queued forever.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from arq import Retry
from arq.typing import WorkerCoroutine
from arq.worker import Function

from relay_core import retry
from relay_core.ops import metrics
from worker.context import WorkerContext, context

log = logging.getLogger(__name__)
# (context, function, args, error) -> True once dead-lettered; False: not a dead-lettered kind.
Exhausted = Callable[[WorkerContext, str, tuple[Any, ...], str], Awaitable[bool]]
Noted = Callable[[WorkerContext, str], Awaitable[None]]
# Room between the job's own budget and arq's timeout, to record the outcome and re-queue it.
TIMEOUT_MARGIN_SECONDS = 3.0


@dataclasses.dataclass(frozen=True, slots=True)
class LastTry:
    """What the seam does with failures: count each one, and dead-letter on the last try."""

    max_tries: int
    noted: Noted
    exhausted: Exhausted


def instrument(
    functions: list[Function],
    default_timeout: float,
    default_tries: int = 5,
    last_try: Callable[[int], LastTry] | None = None,
) -> list[Function]:
    return [
        dataclasses.replace(
            f,
            coroutine=timed(
                f.name,
                f.coroutine,
                budget(f.timeout_s or default_timeout),
                last_try(f.max_tries or default_tries) if last_try else None,
            ),
        )
        for f in functions
    ]


def budget(timeout: float) -> float:
    return max(timeout - TIMEOUT_MARGIN_SECONDS, timeout / 2)


def timed(
    name: str, job: WorkerCoroutine, seconds: float, last: LastTry | None = None
) -> WorkerCoroutine:
    @functools.wraps(job)
    async def wrapper(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        outcome = "failed"
        try:
            async with asyncio.timeout(seconds):
                result = await job(ctx, *args, **kwargs)
            outcome = "ok"
            return result
        except Retry as exc:
            outcome = "retry"
            # A job deferring itself on its last try would be dropped by arq on the next.
            if last is not None and await _dead_letter(last, ctx, name, args, repr(exc)):
                outcome = "dead_letter"
                return None
            raise
        except asyncio.CancelledError:
            outcome = "cancelled"  # the worker stopping, or arq's own timeout
            raise
        except Exception as exc:
            outcome = "timeout" if isinstance(exc, TimeoutError) else "error"
            error = f"{type(exc).__name__}: {exc}"
            if last is not None:
                await last.noted(context(ctx), error)
                if await _dead_letter(last, ctx, name, args, error):
                    outcome = "dead_letter"
                    return None
            delay = retry.JOB_ERROR.delay(int(ctx.get("job_try") or 1))
            log.warning(
                "job function=%s id=%s failed (%s: %s); retrying in %.1f s",
                name,
                ctx.get("job_id"),
                type(exc).__name__,
                exc,
                delay,
                exc_info=outcome == "error",
            )
            raise Retry(defer=delay) from exc
        finally:
            seconds_taken = time.perf_counter() - started
            metrics.JOBS.inc(name, outcome)
            metrics.JOB_DURATION.observe(seconds_taken, name)
            if outcome != "ok":
                # The job's own summary line covers success; this one says why it did not end.
                log.warning(
                    "job function=%s id=%s try=%s outcome=%s ms=%.1f",
                    name,
                    ctx.get("job_id"),
                    ctx.get("job_try"),
                    outcome,
                    seconds_taken * 1000,
                )

    return wrapper


async def _dead_letter(
    last: LastTry, ctx: dict[str, Any], name: str, args: tuple[Any, ...], error: str
) -> bool:
    if int(ctx.get("job_try") or 1) < last.max_tries:
        return False
    return await last.exhausted(context(ctx), name, args, error)

"""The fan-out's resources in arq's ctx: one HTTP session per worker process, the Extend runs
client and the fleet-wide rate limiter, made at start-up and closed at shutdown."""

from __future__ import annotations

from typing import Any, cast

import aiohttp

from relay_core.platforms.extend_runs import ExtendRuns, extend_client
from relay_core.scheduler.ratelimit import Limits, RateLimiter
from relay_core.scheduler.state import Scheduler
from relay_core.settings import ConfigError, Settings
from worker.batches.runcache import RunCache


async def fanout_startup(ctx: dict[str, Any], settings: Settings) -> None:
    session = aiohttp.ClientSession()
    # Never let aiohttp resend a request on its own: every resend is ours, after a look.
    session._retry_connection = False
    ctx["extend_http"] = session
    limits = Limits.of(settings)
    ctx["limiter"] = RateLimiter(ctx["redis"], limits)
    ctx["scheduler"] = Scheduler(ctx["redis"], limits, settings.batches.slot_seconds)
    ctx["run_cache"] = RunCache()
    try:
        ctx["extend"] = ExtendRuns(
            extend_client(session, settings), settings.platforms.extend.api_version
        )
    except ConfigError:
        ctx["extend"] = None  # a worker for webhooks only; fan-out jobs say why they wait


async def fanout_shutdown(ctx: dict[str, Any]) -> None:
    cache = ctx.get("run_cache")
    if cache is not None:
        await cache.close()  # before the session its fetches use is closed
    session = ctx.get("extend_http")
    if session is not None:
        await session.close()


def extend_of(ctx: dict[str, Any]) -> ExtendRuns:
    extend = ctx.get("extend")
    if extend is None:
        raise ConfigError("EXTEND_API_KEY is not set: submitting runs to Extend needs it")
    return cast(ExtendRuns, extend)


def run_cache_of(ctx: dict[str, Any]) -> RunCache:
    return cast(RunCache, ctx["run_cache"])


def limiter_of(ctx: dict[str, Any]) -> RateLimiter:
    return cast(RateLimiter, ctx["limiter"])

"""Fleet-wide rate limits for the platform, kept in Redis so every worker process shares them.

Request buckets (RUN, GET, WRITE) pace requests evenly: a GCRA reservation with a burst of one
request, so the platform's one-second bucket never sees a bunch of them at once. Files per
minute are paced the same way (limit/60 files a second, so a lone backfill cannot spend a
minute's budget in its first seconds), with a sliding 60-second window, the strictest reading
of the platform's limit, as the hard guard. One script (relay_core/scheduler/lua/reserve.lua)
reserves every limit a request needs at once, on Redis's clock, and answers how long to wait;
a caller that would wait too long reserves nothing and comes back later. A 429 sets a
fleet-wide pause that every reservation respects, so a storm slows the fleet, not one job.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

from redis.asyncio import Redis

from relay_core import keys
from relay_core.ops import metrics
from relay_core.redis import scripts
from relay_core.settings import Settings

WINDOW_MS = 60_000
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Limits:
    run_rps: float
    get_rps: float
    write_rps: float
    files_per_minute: int

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            settings.platforms.extend.run_rps,
            settings.platforms.extend.get_rps,
            settings.platforms.extend.write_rps,
            settings.platforms.extend.files_per_minute,
        )


def pace_ms(files_per_minute: int) -> float:
    """Milliseconds of the files budget one file takes: the limit spent evenly."""
    return WINDOW_MS / files_per_minute


class TooLong(Exception):
    """The reservation would wait longer than allowed: nothing was reserved; come back later."""

    def __init__(self, wait_seconds: float) -> None:
        super().__init__(f"rate limited for {wait_seconds:.1f} s")
        self.wait_seconds = wait_seconds


class RateLimiter:
    def __init__(self, redis: Redis, limits: Limits, scope: str = "extend") -> None:
        self.redis = redis
        self.limits = limits
        self.scope = scope

    def _rps(self, bucket: str) -> float:
        return {"RUN": self.limits.run_rps, "GET": self.limits.get_rps}.get(
            bucket, self.limits.write_rps
        )

    async def reserve(self, bucket: str, files: int = 0, max_wait: float = 10.0) -> float:
        """Reserve one request (and `files` files); return the seconds to wait before sending."""
        limit = self.limits.files_per_minute
        reserved, wait_ms = await scripts.RATE_RESERVE(
            self.redis,
            keys={
                "pause": keys.RATE_PAUSE,
                "bucket": keys.rate(f"{self.scope}:{bucket}"),
                "pace": keys.rate(f"{self.scope}:pace"),
                "window": keys.rate(f"{self.scope}:files"),
            },
            args={
                "max_wait_ms": max_wait * 1000,
                "interval_ms": 1000.0 / self._rps(bucket),
                "files_limit": limit,
                "files": files,
                "window_ms": WINDOW_MS,
                "pace_ms": pace_ms(limit),
            },
        )
        if not int(reserved):
            raise TooLong(float(wait_ms) / 1000)
        return max(0.0, float(wait_ms) / 1000)

    async def acquire(self, bucket: str, files: int = 0, max_wait: float = 10.0) -> None:
        """Reserve and wait; raise TooLong when the wait would exceed `max_wait`."""
        wait = await self.reserve(bucket, files, max_wait)
        if wait > 0:
            metrics.RATE_LIMIT_WAITS.inc(bucket)
            metrics.RATE_LIMIT_WAIT_SECONDS.inc(bucket, amount=wait)
            await asyncio.sleep(wait)

    async def acquire_blocking(self, bucket: str) -> None:
        """For short jobs (GETs): wait however long the limits say, in bounded steps."""
        while True:
            try:
                await self.acquire(bucket, max_wait=5.0)
                return
            except TooLong as exc:
                await asyncio.sleep(min(exc.wait_seconds - 4.0, 5.0))

    async def clear_strikes(self) -> None:
        """A request went through: the next 429 starts the backoff from its base again."""
        await self.redis.delete(keys.RATE_STRIKES)

    async def pause(self, retry_after: float | None) -> float:
        """A 429: hold every worker for Retry-After, else an exponential, jittered backoff."""
        ms = 0 if retry_after is None else max(1, int(retry_after * 1000))
        paused_ms = await scripts.RATE_PAUSE(
            self.redis,
            keys={"pause": keys.RATE_PAUSE, "strikes": keys.RATE_STRIKES},
            args={
                "pause_ms": ms,
                "base_ms": BACKOFF_BASE_SECONDS * 1000,
                "max_ms": BACKOFF_MAX_SECONDS * 1000,
                "jitter": random.random(),
            },
        )
        metrics.RATE_LIMIT_WAITS.inc("429")
        metrics.RATE_LIMIT_WAIT_SECONDS.inc("429", amount=float(paused_ms) / 1000)
        return float(paused_ms) / 1000

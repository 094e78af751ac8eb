"""The memory guard: refuse an evicting Redis at start, and say when Redis is (nearly) full.

An evicting `maxmemory-policy` drops keys silently, and the keys it drops may be queued jobs,
dedupe claims or acknowledged event groups: `relay web` and `relay worker` refuse to start on
one unless ALLOW_EVICTION=true. With `noeviction`, a full Redis refuses writes instead, which
the receiver turns into 503 + Retry-After (the platform retries); /readyz then answers 503
`redis_full` so that a health check stops routing traffic here, and recovers by itself.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from relay_core import keys
from relay_core.settings import ConfigError, Settings

log = logging.getLogger(__name__)

SAFE_POLICY = "noeviction"
FULL_RATIO = 0.95
WARN_RATIO = 0.80
REARM_RATIO = 0.70  # below this the 80% warning may be logged again
FAMILY_SAMPLE_KEYS = 2000
FAMILY_CACHE_SECONDS = 30.0


async def eviction_policy(redis: Redis) -> str | None:
    """Redis's maxmemory-policy: CONFIG GET, else INFO (managed Redis often forbids CONFIG)."""
    try:
        found = await redis.config_get("maxmemory-policy")
        value = found.get("maxmemory-policy") or found.get(b"maxmemory-policy")
        if value:
            return value.decode() if isinstance(value, bytes) else str(value)
    except ResponseError:
        pass
    info = await redis.info("memory")
    policy = info.get("maxmemory_policy")
    return None if policy is None else str(policy)


async def check_policy(redis: Redis, allow_eviction: bool) -> str | None:
    """Raise ConfigError on an evicting policy, unless allowed; return the policy."""
    policy = await eviction_policy(redis)
    if policy is not None and policy != SAFE_POLICY and not allow_eviction:
        raise ConfigError(
            f"Redis maxmemory-policy is {policy}: an evicting policy silently drops queued jobs "
            f"and dedupe keys; set it to {SAFE_POLICY}, or ALLOW_EVICTION=true to accept that"
        )
    return policy


async def check_at_start(settings: Settings) -> None:
    """The start-up check of `relay web` / `relay worker` (an unreachable Redis is not fatal
    here: both processes wait for Redis to come back, and /readyz says so meanwhile)."""
    from relay_core.redis.client import connect

    redis = connect(settings.redis.url)
    try:
        policy = await check_policy(redis, settings.redis.allow_eviction)
        if policy is not None and policy != SAFE_POLICY:
            log.warning("Redis maxmemory-policy is %s (allowed by ALLOW_EVICTION)", policy)
    except (RedisError, OSError) as exc:
        log.warning("Redis eviction policy not checked at start: %s", exc)
    finally:
        await redis.aclose()


@dataclass(slots=True, frozen=True)
class MemoryState:
    used: int
    maximum: int  # 0: no maxmemory set
    writable: bool

    @property
    def ratio(self) -> float:
        return self.used / self.maximum if self.maximum else 0.0

    @property
    def full(self) -> bool:
        return not self.writable or self.ratio >= FULL_RATIO


class Guard:
    """Samples Redis memory; logs one warning when use crosses 80% (again after < 70%)."""

    def __init__(self) -> None:
        self.warned = False

    async def sample(self, redis: Redis, probe_write: bool = True) -> MemoryState:
        info = await redis.info("memory")
        used, maximum = int(info.get("used_memory", 0)), int(info.get("maxmemory", 0))
        state = MemoryState(used, maximum, await writable(redis) if probe_write else True)
        self._warn(state)
        return state

    def _warn(self, state: MemoryState) -> None:
        if state.ratio >= WARN_RATIO and not self.warned:
            self.warned = True
            log.warning(
                "Redis memory at %.0f%% of maxmemory (%d of %d bytes): at %.0f%% /readyz "
                "answers 503 and webhooks are refused; raise maxmemory or lower RETENTION_DAYS",
                state.ratio * 100,
                state.used,
                state.maximum,
                FULL_RATIO * 100,
            )
        elif state.ratio < REARM_RATIO:
            self.warned = False


async def writable(redis: Redis) -> bool:
    """Whether Redis takes a write now (a full noeviction Redis answers OOM; a replica READONLY)."""
    try:
        await redis.set(keys.READY_PROBE, b"1", px=10_000)
    except ResponseError:
        return False
    return True


_family_cache: tuple[float, dict[str, int]] = (0.0, {})


async def family_counts(redis: Redis) -> dict[str, int]:
    """Keys per family, sampled cheaply: at most FAMILY_SAMPLE_KEYS keys are scanned, scaled
    up to DBSIZE when there are more; cached FAMILY_CACHE_SECONDS per process."""
    global _family_cache
    at, cached = _family_cache
    if time.monotonic() - at < FAMILY_CACHE_SECONDS:
        return cached
    total = int(await redis.dbsize())
    seen: Counter[str] = Counter()
    cursor: int = 0
    while True:
        cursor, batch = await redis.scan(cursor=cursor, count=500)
        seen.update(keys.family_of(k.decode(errors="replace")) for k in batch)
        if cursor == 0 or sum(seen.values()) >= FAMILY_SAMPLE_KEYS:
            break
    scanned = sum(seen.values())
    scale = total / scanned if cursor != 0 and scanned else 1.0
    counts = {family: round(n * scale) for family, n in seen.items()}
    _family_cache = (time.monotonic(), counts)
    return counts

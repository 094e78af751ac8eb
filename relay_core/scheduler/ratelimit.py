"""Fleet-wide rate limits for the platform, kept in Redis so every worker process shares them.

Request buckets (RUN, GET, WRITE) pace requests evenly: a GCRA reservation with a burst of one
request, so the platform's one-second bucket never sees a bunch of them at once. Files per
minute are paced the same way (limit/60 files a second, so a lone backfill cannot spend a
minute's budget in its first seconds), with a sliding 60-second window, the strictest reading
of the platform's limit, as the hard guard. One
script reserves every limit a request needs at once, on Redis's clock, and answers how long to
wait; a caller that would wait too long reserves nothing and comes back later. A 429 sets a
fleet-wide pause that every reservation respects, so a storm slows the fleet, not one job.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

from redis.asyncio import Redis

from relay_core import keys
from relay_core.ops import metrics
from relay_core.settings import Settings

WINDOW_MS = 60_000
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 30.0

# The reservation, shared with the scheduler (relay_core.scheduler): L holds the keys and
# numbers: pause, buckets {key, interval, units}, pace (files GCRA key) and pace_iv (ms per
# file), win (files window list), limit, window. rl_when answers when a send of `n` files may
# go; rl_commit reserves it. Files are paced (pay after: the next send waits until the files
# of the last are paid off) and the sliding window stays as the hard guard.
RESERVE_LIB = """
local function rl_when(now, L, n)
  local go = math.max(now, tonumber(redis.call('GET', L.pause) or '0'))
  for _, b in ipairs(L.buckets) do
    b.tat = tonumber(redis.call('GET', b.key) or '0')
    go = math.max(go, b.tat + (b.units - 1) * b.interval)
  end
  if n <= 0 then return go end
  L.ptat = tonumber(redis.call('GET', L.pace) or '0')
  go = math.max(go, L.ptat)
  local ts, ns = {}, {}
  for _, e in ipairs(redis.call('LRANGE', L.win, 0, -1)) do
    local a, b = string.match(e, '^([^:]+):(.+)$')
    if tonumber(a) > now - L.window then ts[#ts + 1] = tonumber(a); ns[#ns + 1] = tonumber(b) end
  end
  if #ts > 0 then go = math.max(go, ts[#ts]) end
  local total, i = 0, 1
  for j = 1, #ns do total = total + ns[j] end
  while i <= #ts and ts[i] <= go - L.window do total = total - ns[i]; i = i + 1 end
  while total + n > L.limit and i <= #ts do
    go = math.max(go, ts[i] + L.window + 1)
    while i <= #ts and ts[i] <= go - L.window do total = total - ns[i]; i = i + 1 end
  end
  return go
end

local function rl_commit(now, go, L, n)
  for _, b in ipairs(L.buckets) do
    local tat = math.max(b.tat, go) + b.units * b.interval
    redis.call('SET', b.key, tat, 'PX', math.ceil(tat - now + 1000))
  end
  if n <= 0 then return end
  local ptat = math.max(L.ptat, go) + n * L.pace_iv
  redis.call('SET', L.pace, ptat, 'PX', math.ceil(ptat - now + 1000))
  while true do
    local head = redis.call('LINDEX', L.win, 0)
    if not head then break end
    if tonumber(string.match(head, '^([^:]+)')) > now - L.window then break end
    redis.call('LPOP', L.win)
  end
  redis.call('RPUSH', L.win, go .. ':' .. n)
  redis.call('PEXPIRE', L.win, math.ceil(go - now + L.window + 1000))
end

local function redis_now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
"""

# KEYS: pause, one GCRA key per bucket..., files pace key, files window list (last two)
# ARGV: max wait ms, bucket count, then (interval ms, units) per bucket, then files limit,
#       files count, window ms, ms per file (pacing)
_RESERVE = (
    RESERVE_LIB
    + """
local now = redis_now()
local nb = tonumber(ARGV[2])
local L = {pause = KEYS[1], buckets = {}, pace = KEYS[2 + nb], win = KEYS[3 + nb],
  limit = tonumber(ARGV[3 + 2 * nb]), window = tonumber(ARGV[5 + 2 * nb]),
  pace_iv = tonumber(ARGV[6 + 2 * nb])}
for i = 1, nb do
  L.buckets[i] = {key = KEYS[1 + i], interval = tonumber(ARGV[1 + 2 * i]),
    units = tonumber(ARGV[2 + 2 * i])}
end
local n = tonumber(ARGV[4 + 2 * nb])
local go = rl_when(now, L, n)
local wait = go - now
if wait > tonumber(ARGV[1]) then return {0, wait} end
rl_commit(now, go, L, n)
return {1, wait}
"""
)

# KEYS: pause, strikes. ARGV: pause ms (0 = by strikes), base ms, max ms, jitter 0..1
# Without a Retry-After the pause doubles with each 429 the fleet saw recently.
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local strikes = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], 60000)
local ms = tonumber(ARGV[1])
if ms <= 0 then
  ms = math.min(tonumber(ARGV[3]), tonumber(ARGV[2]) * 2 ^ math.min(strikes - 1, 20))
  ms = ms * (0.5 + 0.5 * tonumber(ARGV[4]))
end
local until_ms = now + ms
if until_ms > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], math.floor(until_ms), 'PX', math.ceil(ms) + 1000)
end
return math.floor(ms)
"""


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
        self._reserve = redis.register_script(_RESERVE)
        self._pause = redis.register_script(_PAUSE)

    def _rps(self, bucket: str) -> float:
        return {"RUN": self.limits.run_rps, "GET": self.limits.get_rps}.get(
            bucket, self.limits.write_rps
        )

    async def reserve(self, bucket: str, files: int = 0, max_wait: float = 10.0) -> float:
        """Reserve one request (and `files` files); return the seconds to wait before sending."""
        interval = 1000.0 / self._rps(bucket)
        script_keys = [
            keys.RATE_PAUSE,
            keys.rate(f"{self.scope}:{bucket}"),
            keys.rate(f"{self.scope}:pace"),
            keys.rate(f"{self.scope}:files"),
        ]
        limit = self.limits.files_per_minute
        args = [max_wait * 1000, 1, interval, 1, limit, files, WINDOW_MS, pace_ms(limit)]
        reserved, wait_ms = await self._reserve(keys=script_keys, args=args)
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
        script_keys = [keys.RATE_PAUSE, keys.RATE_STRIKES]
        args = [ms, BACKOFF_BASE_SECONDS * 1000, BACKOFF_MAX_SECONDS * 1000, random.random()]
        paused_ms = await self._pause(keys=script_keys, args=args)
        metrics.RATE_LIMIT_WAITS.inc("429")
        metrics.RATE_LIMIT_WAIT_SECONDS.inc("429", amount=float(paused_ms) / 1000)
        return float(paused_ms) / 1000

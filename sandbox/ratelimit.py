"""Extend's per-organization limits: GET / WRITE / RUN request buckets and files per minute.

All on the simulated clock, so a paused clock makes a limit test exact.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from sandbox.clock import SimClock
from sandbox.config import RateLimitConfig


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    def __init__(self, clock: SimClock) -> None:
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._files: deque[tuple[float, int]] = deque()

    def reset(self) -> None:
        self._buckets.clear()
        self._files.clear()

    def take_request(self, bucket: str, limits: RateLimitConfig) -> float | None:
        """Spend one request token; the seconds to wait when none is left, else None."""
        rate = {"GET": limits.get_rps, "WRITE": limits.write_rps, "RUN": limits.run_rps}[bucket]
        if rate is None:
            return None
        now = self._clock.now()
        # A one-second burst: a bucket holds at most ``rate`` tokens.
        state = self._buckets.setdefault(bucket, _Bucket(rate, now))
        state.tokens = min(rate, state.tokens + (now - state.stamp) * rate)
        state.stamp = now
        if state.tokens >= 1:
            state.tokens -= 1
            return None
        return (1 - state.tokens) / rate

    def take_files(self, count: int, limits: RateLimitConfig) -> float | None:
        """Admit ``count`` files against the per-minute limit, or say how long until they fit."""
        limit = limits.files_per_minute
        if limit is None:
            return None
        now = self._clock.now()
        while self._files and self._files[0][0] <= now - 60:
            self._files.popleft()
        used = sum(n for _, n in self._files)
        if used + count <= limit:
            self._files.append((now, count))
            return None
        return self._wait_for_room(used + count - limit, now)

    def _wait_for_room(self, excess: int, now: float) -> float:
        freed = 0
        for stamp, n in self._files:
            freed += n
            if freed >= excess:
                return max(stamp + 60 - now, 0.001)
        return 60.0  # more files than the whole limit: never fits; say a minute


def retry_after_header(wait: float) -> str:
    return str(max(1, math.ceil(wait)))

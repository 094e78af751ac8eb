"""Simulated time: a clock that can be paused and advanced, and a scheduler that runs on it.

Processing, reviews, rate-limit buckets and signed-URL expiry all read this clock, so a test can
freeze time or jump ahead and see every transition that falls inside the jump, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

# A scheduled callback receives the simulated time it was due at, so a cascade of transitions
# fired by one big advance keeps each transition's own timestamp.
Callback = Callable[[float], None]

log = logging.getLogger(__name__)
_SLICE = 2000


class SimClock:
    def __init__(self, start: float | None = None) -> None:
        self._offset = 0.0 if start is None else start - time.time()
        self._paused_at: float | None = None

    def now(self) -> float:
        if self._paused_at is not None:
            return self._paused_at
        return time.time() + self._offset

    @property
    def paused(self) -> bool:
        return self._paused_at is not None

    def advance(self, seconds: float) -> None:
        if self._paused_at is not None:
            self._paused_at += seconds
        else:
            self._offset += seconds

    def set_paused(self, paused: bool) -> None:
        if paused and self._paused_at is None:
            self._paused_at = self.now()
        elif not paused and self._paused_at is not None:
            self._offset = self._paused_at - time.time()
            self._paused_at = None


@dataclass(slots=True)
class _Entry:
    callback: Callback
    cancelled: bool = False


class Handle:
    def __init__(self, entry: _Entry) -> None:
        self._entry = entry

    def cancel(self) -> None:
        self._entry.cancelled = True


class Scheduler:
    """Runs callbacks when the simulated clock reaches their due time."""

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        # (due, tie-breaker, entry): plain tuples compare far faster than dataclasses.
        self._heap: list[tuple[float, int, _Entry]] = []
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="sandbox-scheduler")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def at(self, due: float, callback: Callback) -> Handle:
        entry = _Entry(callback)
        heapq.heappush(self._heap, (due, next(self._seq), entry))
        if self._heap[0][2] is entry:
            self._wake.set()
        return Handle(entry)

    def clear(self) -> None:
        self._heap.clear()

    def __len__(self) -> int:
        return len(self._heap)

    def run_due(self, limit: int | None = None) -> int:
        """Fire callbacks due by now (including ones they schedule), at most ``limit`` of them."""
        fired = 0
        now = self.clock.now()
        while self._heap and self._heap[0][0] <= now and (limit is None or fired < limit):
            due, _, entry = heapq.heappop(self._heap)
            fired += 1
            if entry.cancelled:
                continue
            try:
                entry.callback(due)
            except Exception:
                # One broken transition must not stop simulated time for every other run.
                log.exception("scheduled callback failed")
        return fired

    def clock_changed(self) -> None:
        self.run_due()
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            if self.run_due(limit=_SLICE) == _SLICE:
                # More is due: yield between slices so a burst of 100,000 transitions does not
                # stall request handling.
                await asyncio.sleep(0)
                continue
            self._wake.clear()
            timeout = self._sleep_for()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    def _sleep_for(self) -> float | None:
        if not self._heap or self.clock.paused:
            return None
        return max(0.0, self._heap[0][0] - self.clock.now())

"""The scheduler's rules, property-based, on the real Lua against a real Redis.

Each example stores batches of random producers, priorities, weights, sizes and chunk sizes,
some arriving while others are being sent, and takes slots on a simulated clock (the script's
injectable clock) until every file is scheduled. Checked at every slot: the files tile each
batch exactly once; the lowest priority number with files left always goes first; no 60-s
window exceeds the files-per-minute limit and files are paced at limit/60 a second; and no
batch starves: between its arrival (or its last slot) and its next slot, the files given to
the other batches of its level stay under a bound set by the number of producers and batches
competing, however long the run.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from relay_core import keys
from relay_core.batches.producer import Producer
from relay_core.scheduler.ratelimit import WINDOW_MS, Limits
from relay_core.scheduler.state import Scheduler
from tests.conftest import make_settings

T0 = 1_800_000_000_000.0


@dataclass
class Spec:
    producer: str
    priority: int
    weight: int
    files: int
    chunk: int
    arrives_after: int  # slots granted before it is submitted


@dataclass
class Live:
    spec: Spec
    batch_id: str
    granted: list[tuple[int, int]] = field(default_factory=list)  # (start offset, files)

    @property
    def left(self) -> int:
        return self.spec.files - sum(n for _, n in self.granted)

    @property
    def served(self) -> int:
        return sum(n for _, n in self.granted)


specs = st.lists(
    st.builds(
        Spec,
        producer=st.sampled_from(["ana", "ben", "cy"]),
        priority=st.sampled_from([1, 50, 90]),
        weight=st.integers(1, 3),
        files=st.integers(1, 240),
        chunk=st.integers(1, 50),
        arrives_after=st.integers(0, 30),
    ),
    min_size=1,
    max_size=7,
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    batches=specs,
    per_minute=st.sampled_from([60, 600, 3000, 60_000]),
    run_rps=st.sampled_from([2.0, 10.0, 50.0]),
)
async def test_priority_fairness_pacing_and_no_starvation(
    redis: Redis, redis_url: str, batches: list[Spec], per_minute: int, run_rps: float
) -> None:
    await redis.flushdb()
    config = make_settings(redis_url, EXTEND_FILES_PER_MINUTE=per_minute, EXTEND_RUN_RPS=run_rps)
    producer = Producer(redis, config)
    sched = Scheduler(redis, Limits.of(config), config.batches.slot_seconds)
    pending = sorted(batches, key=lambda s: s.arrives_after)
    live: dict[str, Live] = {}
    slots: list[tuple[float, int]] = []
    lags = Lags()
    now = T0
    while pending or any(b.left for b in live.values()):
        while pending and (pending[0].arrives_after <= len(slots) or not _open(live)):
            spec = pending.pop(0)
            body = {
                "workflowId": "wf",
                "files": [{"url": f"https://f.example/{i}"} for i in range(spec.files)],
                "chunkSize": spec.chunk,
                "priority": spec.priority,
                "weight": spec.weight,
            }
            done = await producer.submit(body, producer=spec.producer)
            live[done.batchId] = Live(spec, done.batchId)
            await redis.delete(keys.SCHED_LEASE)  # the submit's kick: the test dispatches
        taken = await sched.take("sim", now)
        if taken.outcome == "wait":
            now += max(1.0, taken.wait_ms)
            continue
        assert taken.outcome == "granted", taken
        got = live[taken.batch_id]
        _check_slot(live, got, taken.files)
        waiting = [b for b in _open(live) if b.spec.priority == got.spec.priority]
        chunk = await redis.hmget(keys.batch_chunk(got.batch_id, taken.chunk), ["start", "end"])
        start, end = int(chunk[0]), int(chunk[1])
        assert start == got.spec.files - got.left and end - start == taken.files
        got.granted.append((start, taken.files))
        lags.check(waiting, live)
        slots.append((now + taken.wait_ms, taken.files))
    _check_limits(slots, per_minute)
    assert await redis.zcard(keys.SCHED_LEVELS) == 0  # nothing left behind in the schedule


def _open(live: dict[str, Live]) -> list[Live]:
    return [b for b in live.values() if b.left]


def _check_slot(live: dict[str, Live], got: Live, files: int) -> None:
    active = _open(live)
    top = min(b.spec.priority for b in active)
    assert got.spec.priority == top, "a lower priority number always goes first"
    assert files <= min(got.left, got.spec.chunk)


class Lags:
    """Fair share as a bound on lag: two producers of the top level, both with files left all
    along, are never served more than LAG files apart; two batches of one producer, never
    more than LAG apart in files per unit of weight. Bounded lag: nobody starves."""

    LAG = 101.0  # virtual times stay within one chunk (50) of each other, from either side

    def __init__(self) -> None:
        self.base: dict[tuple[str, str], tuple[float, float]] = {}

    def check(self, waiting: list[Live], live: dict[str, Live]) -> None:
        """After a slot: `waiting` is the top level's batches with files left before it."""
        level = waiting[0].spec.priority
        served: dict[str, float] = {}
        for b in live.values():
            if b.spec.priority == level:
                served[b.spec.producer] = served.get(b.spec.producer, 0.0) + b.served
        here = sorted({b.spec.producer for b in waiting})
        now = {(f"p:{u}", f"p:{v}"): (served[u], served[v]) for u in here for v in here}
        for b in waiting:
            for c in waiting:
                if b.spec.producer == c.spec.producer:
                    key = (f"b:{b.batch_id}", f"b:{c.batch_id}")
                    now[key] = (b.served / b.spec.weight, c.served / c.spec.weight)
        # A pair that stops waiting together starts again from its next meeting.
        self.base = {k: v for k, v in self.base.items() if k in now}
        for key, (x, y) in now.items():
            x0, y0 = self.base.setdefault(key, (x, y))
            assert abs((x - x0) - (y - y0)) <= self.LAG, f"lag {key}: {x - x0} vs {y - y0}"


def _check_limits(slots: list[tuple[float, int]], per_minute: int) -> None:
    pace = WINDOW_MS / per_minute
    for (at, files), (nxt, _) in itertools.pairwise(slots):
        assert nxt >= at + files * pace - 2, "files are paced at limit/60 a second"
    first, in_window = 0, 0
    for at, files in slots:
        in_window += files
        while slots[first][0] <= at - WINDOW_MS:
            in_window -= slots[first][1]
            first += 1
        assert in_window <= per_minute, "no 60-s window exceeds the limit"

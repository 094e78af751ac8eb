"""Render /metrics: read the shared counters and the queue from Redis at scrape time.

Built per scrape as a prometheus_client Collector over a snapshot, so nothing here keeps
state between scrapes and any web process answers for the whole deployment.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from redis.asyncio import Redis

from relay_core import keys
from relay_core.ops import deadletters, metrics
from relay_core.redis import memguard, queue

_Values = tuple[str, ...]


# The lowest scores, not only the first: event groups are scored ahead (queue.events_score).
OLDEST_SCAN = 50


@dataclass(slots=True)
class Snapshot:
    shared: dict[str, dict[_Values, dict[str, float]]] = field(default_factory=dict)
    event_types: dict[str, float] = field(default_factory=dict)
    queue_depth: int = 0
    oldest_enqueue_ms: float | None = None
    worker_up: bool = False
    dead_letters: dict[str, int] = field(default_factory=dict)
    used_memory: int = 0
    max_memory: int = 0
    families: dict[str, int] = field(default_factory=dict)


async def read_snapshot(redis: Redis) -> Snapshot:
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hgetall(keys.METRICS)
        pipe.hgetall(keys.EVENT_TYPES)
        pipe.zcard(queue.QUEUE)
        pipe.zrange(queue.QUEUE, 0, OLDEST_SCAN - 1, withscores=True)
        pipe.exists(queue.QUEUE + queue.HEALTH_CHECK_SUFFIX)
        shared, types, depth, oldest, up = await pipe.execute()
    snap = Snapshot(queue_depth=int(depth), worker_up=bool(up))
    snap.event_types = {k.decode(errors="replace"): float(v) for k, v in types.items()}
    snap.oldest_enqueue_ms = min((queue.enqueued_ms(j, s) for j, s in oldest), default=None)
    grouped: dict[str, dict[_Values, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    for raw, value in shared.items():
        key = metrics.parse_field(raw)
        if key is not None and key[0] in metrics.DECLARED:
            grouped[key[0]][key[2]][key[1]] = float(value)
    snap.shared = grouped
    snap.dead_letters = await deadletters.counts(redis)
    memory = await redis.info("memory")
    snap.used_memory, snap.max_memory = int(memory["used_memory"]), int(memory["maxmemory"])
    snap.families = await memguard.family_counts(redis)
    return snap


class SnapshotCollector(Collector):
    def __init__(self, snap: Snapshot, now_ms: float) -> None:
        self.snap = snap
        self.now_ms = now_ms

    def collect(self) -> Iterator[Metric]:
        for metric in metrics.DECLARED.values():
            samples = self.snap.shared.get(metric.name, {})
            if metric.kind == "counter":
                yield _counter(metric, samples)
            else:
                yield _histogram(metric, samples)
        yield from self._live()

    def _live(self) -> Iterator[Metric]:
        events = CounterMetricFamily(
            "relay_events", "Webhook events applied by the worker, by type.", labels=["type"]
        )
        for event_type, count in sorted(self.snap.event_types.items()):
            events.add_metric([event_type], count)
        yield events
        yield GaugeMetricFamily(
            "relay_queue_depth", "Jobs in the arq queue (ready or deferred).", self.snap.queue_depth
        )
        oldest = self.snap.oldest_enqueue_ms
        age = 0.0 if oldest is None else max(0.0, (self.now_ms - oldest) / 1000)
        yield GaugeMetricFamily(
            "relay_queue_oldest_job_age_seconds", "Age of the oldest job in the queue.", age
        )
        yield GaugeMetricFamily(
            "relay_worker_up",
            "1 while a worker's health check is fresh in Redis.",
            1.0 if self.snap.worker_up else 0.0,
        )
        dead = GaugeMetricFamily(
            "relay_dead_letters", "Dead letters waiting, by kind.", labels=["kind"]
        )
        for kind, count in sorted(self.snap.dead_letters.items()):
            dead.add_metric([kind], count)
        yield dead
        yield GaugeMetricFamily(
            "relay_redis_used_memory_bytes", "Redis used_memory.", self.snap.used_memory
        )
        yield GaugeMetricFamily(
            "relay_redis_max_memory_bytes",
            "Redis maxmemory (0: unlimited); /readyz answers 503 at 95% of it.",
            self.snap.max_memory,
        )
        families = GaugeMetricFamily(
            "relay_redis_keys",
            "Keys per family, sampled (at most 2,000 keys scanned, scaled to DBSIZE).",
            labels=["family"],
        )
        for family, count in sorted(self.snap.families.items()):
            families.add_metric([family], count)
        yield families


def _counter(metric: metrics.Metric, samples: dict[_Values, dict[str, float]]) -> Metric:
    family = CounterMetricFamily(metric.name, metric.help, labels=list(metric.labels))
    for values, parts in sorted(samples.items()):
        if len(values) == len(metric.labels):
            family.add_metric(list(values), parts.get("", 0.0))
    return family


def _histogram(metric: metrics.Metric, samples: dict[_Values, dict[str, float]]) -> Metric:
    family = HistogramMetricFamily(metric.name, metric.help, labels=list(metric.labels))
    bounds = [repr(b) for b in metric.buckets] + ["+Inf"]
    for values, parts in sorted(samples.items()):
        if len(values) != len(metric.labels):
            continue
        running, buckets = 0.0, []
        for bound in bounds:
            running += parts.get(bound, 0.0)
            buckets.append((bound, running))
        family.add_metric(list(values), buckets, parts.get("sum", 0.0))
    return family


async def render(redis: Redis) -> bytes:
    snap = await read_snapshot(redis)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snap, time.time() * 1000))
    return generate_latest(registry)

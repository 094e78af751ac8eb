"""What the processes count, declared once, tallied in memory and added up in one Redis hash.

Every process (web and worker) increments a plain in-process dict, which costs nothing on the
webhook hot path, and a flusher adds it to the `relay:metrics` hash every few seconds with one
pipeline of HINCRBYFLOATs (and once more at shutdown). `GET /metrics` on any web process reads
the hash at scrape time (ingest.metrics_export), so the figures are the whole deployment's,
survive restarts, and need no routable port on the worker - which a PaaS does not give it.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
from dataclasses import dataclass
from typing import Literal

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from relay_core import keys

log = logging.getLogger(__name__)

FLUSH_SECONDS = 2.0
# The pending key: (metric name, sample suffix, label values); suffix "" for a counter, else
# "sum", "count" or a bucket's upper bound for a histogram.
_Key = tuple[str, str, tuple[str, ...]]
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    kind: Literal["counter", "histogram"]
    help: str
    labels: tuple[str, ...]
    buckets: tuple[float, ...] = ()


class Tally:
    """Increments not yet added to Redis. Single-threaded (asyncio): no lock is needed."""

    def __init__(self) -> None:
        self.pending: dict[_Key, float] = {}

    def add(self, key: _Key, amount: float) -> None:
        pending = self.pending
        pending[key] = pending.get(key, 0.0) + amount

    def take(self) -> dict[_Key, float]:
        taken, self.pending = self.pending, {}
        return taken

    def put_back(self, taken: dict[_Key, float]) -> None:
        for key, amount in taken.items():
            self.add(key, amount)

    async def flush(self, redis: Redis) -> int:
        """Add the pending increments to Redis; on failure keep them for the next flush."""
        taken = self.take()
        if not taken:
            return 0
        try:
            async with redis.pipeline(transaction=False) as pipe:
                for key, amount in taken.items():
                    pipe.hincrbyfloat(keys.METRICS, field_name(key), amount)
                await pipe.execute()
        except RedisError as exc:
            self.put_back(taken)
            log.warning("metrics not flushed (%d pending): %s", len(taken), exc)
            return 0
        return len(taken)


TALLY = Tally()
DECLARED: dict[str, Metric] = {}


def field_name(key: _Key) -> str:
    name, suffix, values = key
    return orjson.dumps([name, suffix, list(values)]).decode()


def parse_field(raw: bytes) -> _Key | None:
    try:
        name, suffix, values = orjson.loads(raw)
        return str(name), str(suffix), tuple(str(v) for v in values)
    except (orjson.JSONDecodeError, TypeError, ValueError):
        return None  # a field some other version wrote: ignored, never a failed scrape


class Counter:
    def __init__(self, name: str, help: str, labels: tuple[str, ...] = ()) -> None:
        self.name = name
        DECLARED[name] = Metric(name, "counter", help, labels)

    def inc(self, *values: str, amount: float = 1.0) -> None:
        TALLY.add((self.name, "", values), amount)


class Histogram:
    def __init__(
        self,
        name: str,
        help: str,
        labels: tuple[str, ...] = (),
        buckets: tuple[float, ...] = DURATION_BUCKETS,
    ) -> None:
        self.name = name
        self.buckets = buckets
        self._bounds = [repr(b) for b in buckets] + ["+Inf"]
        DECLARED[name] = Metric(name, "histogram", help, labels, buckets)

    def observe(self, value: float, *values: str) -> None:
        # Only the first bucket that fits is counted here; the exporter makes them cumulative.
        bound = self._bounds[bisect.bisect_left(self.buckets, value)]
        TALLY.add((self.name, bound, values), 1.0)
        TALLY.add((self.name, "sum", values), value)
        TALLY.add((self.name, "count", values), 1.0)


WEBHOOK_REQUESTS = Counter(
    "relay_webhook_requests",
    "Webhook deliveries by outcome (queued, duplicate, or the error code answered).",
    ("outcome",),
)
HTTP_REQUESTS = Counter(
    "relay_http_requests", "/v1 API requests by route and status.", ("route", "status")
)
HTTP_DURATION = Histogram(
    "relay_http_request_duration_seconds", "/v1 API request durations.", ("route",)
)
JOBS = Counter(
    "relay_jobs",
    "Worker jobs by function and outcome (ok, retry, error or timeout: retried, cancelled).",
    ("function", "outcome"),
)
JOB_DURATION = Histogram(
    "relay_job_duration_seconds", "Worker job durations, every outcome.", ("function",)
)
PLATFORM_REQUESTS = Counter(
    "relay_platform_requests",
    "Calls to the platforms by endpoint (ids replaced by {id}) and HTTP status or error.",
    ("platform", "method", "endpoint", "status"),
)
PLATFORM_DURATION = Histogram(
    "relay_platform_request_duration_seconds", "Platform call durations.", ("platform",)
)
RATE_LIMIT_WAITS = Counter(
    "relay_rate_limit_waits", "Times a platform call waited for its rate limit.", ("limit",)
)
RATE_LIMIT_WAIT_SECONDS = Counter(
    "relay_rate_limit_wait_seconds", "Time spent waiting for rate limits.", ("limit",)
)
DEPLOYS = Counter("relay_deploys", "Deploys that reached a final state, by outcome.", ("outcome",))
DEAD_LETTERED = Counter(
    "relay_dead_lettered", "Items that exhausted their tries and became dead letters.", ("kind",)
)
EVENTS_REPLAYED = Counter("relay_events_replayed", "Logged events queued again by a replay.")


async def run_flusher(redis: Redis, interval: float = FLUSH_SECONDS) -> None:
    """Flush forever; cancelled at shutdown, after which the owner flushes once more."""
    while True:
        await asyncio.sleep(interval)
        await TALLY.flush(redis)


async def stop_flusher(task: asyncio.Task[None], redis: Redis) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await TALLY.flush(redis)


# A path segment after one of these names is an id; so is any segment with a digit (but "v1").
_COLLECTIONS = frozenset(
    {"workflows", "workflow_runs", "runs", "versions", "batches", "batch", "files", "processors"}
)


def endpoint_label(path: str) -> str:
    """`/workflows/wf_9aB/versions` -> `/workflows/{id}/versions`: bounded label values."""
    out: list[str] = []
    previous = ""
    for segment in path.split("?", 1)[0].split("/"):
        is_version = segment[:1] == "v" and segment[1:].isdigit()
        is_id = previous in _COLLECTIONS or (any(c.isdigit() for c in segment) and not is_version)
        out.append("{id}" if segment and is_id else segment)
        previous = segment
    return "/".join(out)

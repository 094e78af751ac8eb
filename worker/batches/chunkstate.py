"""A chunk's state in Redis and its atomic transitions (relay_core/batches/lua)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from relay_core import keys
from relay_core.batches import runmap
from relay_core.redis import queue, scripts

log = logging.getLogger(__name__)

SETTLED = frozenset({"sent", "failed", "cancelled"})


@dataclass(frozen=True, slots=True)
class BatchInfo:
    batch_id: str
    workflow_id: str
    version: str | None
    priority: int | None
    metadata: dict[str, Any]
    dialect: str
    state: str


@dataclass(frozen=True, slots=True)
class ChunkState:
    batch_id: str
    n: int
    start: int
    end: int
    kind: str
    state: str
    sent_at: int
    sends: int
    attempts: int
    sending: list[int]  # the file indexes of the send whose outcome may be unknown
    slot: int = 0  # ms (Redis clock): the rate-limit slot the scheduler reserved for it

    @property
    def indexes(self) -> range:
        return range(self.start, self.end)


async def load_batch(redis: Redis, batch_id: str) -> BatchInfo | None:
    names = ["workflowId", "version", "priority", "metadata", "dialect", "state"]
    raw = await redis.hmget(keys.batch(batch_id), names)  # type: ignore[misc]
    v = [x.decode() if x is not None else None for x in raw]
    if v[0] is None:
        return None
    return BatchInfo(
        batch_id,
        v[0],
        v[1],
        int(v[2]) if v[2] else None,
        orjson.loads(v[3] or "{}"),
        v[4] or "2026-02-09",
        v[5] or "",
    )


async def load_chunk(redis: Redis, batch_id: str, n: int) -> ChunkState | None:
    raw = await redis.hgetall(keys.batch_chunk(batch_id, n))  # type: ignore[misc]
    if not raw:
        return None
    h = {k.decode(): v.decode() for k, v in raw.items()}
    if "start" not in h:
        # Only a write to a chunk a failover had lost leaves this (no longer possible: the
        # chunk scripts write nothing to a missing chunk); the dispatcher cuts it again.
        log.warning("chunk %d of %s has no range; treated as missing", n, batch_id)
        return None
    return ChunkState(
        batch_id,
        n,
        int(h["start"]),
        int(h["end"]),
        h.get("kind", "files"),
        h.get("state", "pending"),
        int(h.get("sentAt", "0")),
        int(h.get("sends", "0")),
        int(h.get("attempts", "0")),
        orjson.loads(h.get("sendingFiles", "[]")),
        int(h.get("slot", "0")),
    )


async def unresolved(redis: Redis, chunk: ChunkState) -> list[int]:
    """File indexes of the chunk with neither a run nor a recorded failure."""
    fields = [str(i) for i in chunk.indexes]
    runs = await runmap.run_ids(redis, chunk.batch_id, chunk.indexes)
    errors = await redis.hmget(keys.batch_errors(chunk.batch_id), fields)  # type: ignore[misc]
    return [
        i for i, r, e in zip(chunk.indexes, runs, errors, strict=True) if r is None and e is None
    ]


async def files_of(redis: Redis, batch_id: str, indexes: list[int]) -> list[dict[str, Any]]:
    if not indexes:
        return []
    raw = await redis.lrange(keys.batch_files(batch_id), indexes[0], indexes[-1])  # type: ignore[misc]
    first = indexes[0]
    return [orjson.loads(raw[i - first]) for i in indexes]


class NotReplicated(Exception):
    """The `sending` mark is not on a replica yet: a failover could lose it, and the next try
    would then send the files again without looking. Nothing was sent; try again later."""


async def begin_send(
    redis: Redis, chunk: ChunkState, indexes: list[int], replica_wait_ms: int = 0
) -> str:
    """pending -> sending (with the files of this send); answers the state found.

    With `replica_wait_ms` (WEBHOOK_ACK_DURABILITY=replica) the mark must reach a replica
    before the request may leave: WAIT covers its own connection's writes, so the mark and the
    wait go in one pipeline."""

    async def fill(pipe: Pipeline) -> None:
        await scripts.CHUNK_SEND.queue(
            pipe,
            keys={
                "batch": keys.batch(chunk.batch_id),
                "chunk": keys.batch_chunk(chunk.batch_id, chunk.n),
            },
            args={"now": queue.now_ms(), "files": orjson.dumps(indexes).decode()},
        )
        if replica_wait_ms > 0:
            pipe.execute_command("WAIT", 1, replica_wait_ms)

    # Run again whole after a NOSCRIPT: the send then marked nothing, and WAIT is harmless.
    found = await scripts.pipelined(redis, fill)
    outcome = found[0].decode() if isinstance(found[0], bytes) else str(found[0])
    if replica_wait_ms > 0 and outcome == "sending" and int(found[1]) < 1:
        raise NotReplicated(f"chunk {chunk.n} of {chunk.batch_id}: no replica acknowledged")
    return outcome


async def set_state(redis: Redis, chunk: ChunkState, state: str, error: str | None) -> int:
    """Back to pending (or left sending) after a failed send; returns the attempts so far."""
    attempts = int(
        await scripts.CHUNK_STATE(
            redis,
            keys={"chunk": keys.batch_chunk(chunk.batch_id, chunk.n)},
            args={"state": state, "error": "" if error is None else error[:1000] or "error"},
        )
    )
    return chunk.attempts if attempts < 0 else attempts


async def settle(
    redis: Redis,
    chunk: ChunkState,
    mode: str,
    errors: dict[int, dict[str, str]] | None = None,
    *,
    platform_batch: str = "",
) -> int:
    """Record a chunk's end (sent | failed | cancelled) or file errors only (files)."""
    batch_id = chunk.batch_id
    job_id = queue.batch_completed_job_id(batch_id)
    buckets = runmap.keys_of(batch_id, chunk.start, chunk.end)
    now = queue.now_ms()
    settled = await scripts.CHUNK_SETTLE(
        redis,
        keys={
            "batch": keys.batch(batch_id),
            "chunk": keys.batch_chunk(batch_id, chunk.n),
            "errors": keys.batch_errors(batch_id),
            "bucket": buckets[0],
            "done_job": queue.JOB_KEY_PREFIX + job_id,
            "queue": queue.QUEUE,
            "open_batches": keys.BATCHES_OPEN,
            "platform_batches": keys.batch_platform_batches(batch_id),
            "more_buckets": buckets[1:],
        },
        args={
            "mode": mode,
            "now": now,
            "done_job": queue.job_bytes(queue.BATCH_COMPLETED, [batch_id], now),
            "done_job_id": job_id,
            "errors": orjson.dumps(
                {str(i): orjson.dumps(e).decode() for i, e in (errors or {}).items()}
            ),
            "platform_batch_id": platform_batch,
            "batch_id": batch_id,
            "chunk": str(chunk.n),
            "first_bucket": runmap.bucket_of(chunk.start),
            "bucket_size": runmap.BUCKET,
        },
    )
    return int(settled)


async def map_runs(redis: Redis, batch_id: str, mapping: dict[str, int]) -> int:
    """Record 2025-04-21 run -> file and re-queue the events that waited for it."""
    group_id = "mapped-" + uuid.uuid4().hex
    job_id = queue.apply_events_job_id(group_id)
    now = queue.now_ms()
    parked = await scripts.MAP_RUNS(
        redis,
        keys={
            "run_files": keys.batch_run_files(batch_id),
            "parked": keys.batch_parked(batch_id),
            "group": keys.event_group(group_id),
            "job": queue.JOB_KEY_PREFIX + job_id,
            "queue": queue.QUEUE,
        },
        args={
            "mapping": orjson.dumps(mapping),
            "score": queue.events_score(now),
            "job": queue.job_bytes(queue.APPLY_EVENTS, [group_id], now),
            "job_id": job_id,
        },
    )
    return int(parked)

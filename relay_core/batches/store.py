"""The batch store: create a batch and put it in the schedule, read it, cancel it.

A batch is the hash `relay:batch:{id}` (definition, state and the counters the Lua of
relay_core/runs/lua and relay_core/batches/lua keeps) and its file list. Its chunks are cut later, one at a
time, by the scheduler (relay_core.scheduler), each with its hash and arq job
(`chunk:{batch}:{n}`), as the rate limits and the other batches allow. The files are written in
slices and the batch comes to exist in one MULTI (definition, schedule, indexes), so it exists
whole or not at all.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import WatchError

from relay_core import keys
from relay_core.batches import runmap
from relay_core.batches.models import BatchAccepted, BatchRequest
from relay_core.errors import Conflict, InvalidRequest, NotFound
from relay_core.ops import retention
from relay_core.redis import queue, scripts
from relay_core.runs.status import BATCH_COUNTED
from relay_core.scheduler import state as scheduler

IDEMPOTENCY_TTL_SECONDS = 24 * 3600
_PUSH_SLICE = 250


# While a big batch's files are written in slices, the list is not yet part of a batch: it
# expires unless the commit that creates the batch keeps it.
UNCOMMITTED_TTL_SECONDS = 3600


@dataclass(frozen=True, slots=True)
class Stored:
    """What writing the files produced: where each kind of file starts, and the body's hash."""

    kinds: list[tuple[int, str]]
    fingerprint: str


def new_batch_id() -> str:
    return "rbatch_" + uuid.uuid4().hex[:20]


def idempotency_key(scope: str, key: str) -> str:
    digest = hashlib.sha256(f"{scope}\0{key}".encode()).hexdigest()[:32]
    return keys.IDEMPOTENCY + "batch:" + digest


def estimate_chunks(kinds: list[tuple[int, str]], files: int, size: int) -> int:
    """Chunks at the batch's largest size (the scheduler may cut smaller ones when busy)."""
    ends = [start for start, _ in kinds[1:]] + [files]
    return sum(-(-(end - start) // size) for (start, _), end in zip(kinds, ends, strict=True))


async def create_batch(
    redis: Redis,
    request: BatchRequest,
    *,
    chunk_size: int,
    dialect: str,
    producer: str = "default",
    idempotency: str | None = None,
    callback: dict[str, str] | None = None,
) -> tuple[BatchAccepted, bool]:
    """Store the batch and put it in the schedule; (answer, created). A replayed key gives the
    first answer. The files are written in slices first; the batch exists from the commit."""
    batch_id = new_batch_id()
    stored = await _store_files(redis, batch_id, request, dialect)
    answer = BatchAccepted(
        batchId=batch_id,
        files=len(request.files),
        chunks=estimate_chunks(stored.kinds, len(request.files), chunk_size),
        statusUrl=f"/v1/batches/{batch_id}",
        callbackSecret=callback["cbSecret"] if callback else None,
    )
    definition = _definition(request, chunk_size, dialect, producer, stored.kinds)
    definition.update(callback or {})  # relay_core.notify: the batch's own destination
    if idempotency is None:
        async with redis.pipeline(transaction=True) as pipe:
            await _commit(redis, pipe, batch_id, definition, stored.kinds)
            await pipe.execute()
        return answer, True
    return await _write_once(redis, answer, definition, stored, idempotency)


async def _store_files(redis: Redis, batch_id: str, request: BatchRequest, dialect: str) -> Stored:
    files_key = keys.batch_files(batch_id)
    digest = hashlib.sha256(orjson.dumps(request.model_dump(exclude={"files"}, exclude_none=True)))
    kinds: list[tuple[int, str]] = []
    for start in range(0, len(request.files), _PUSH_SLICE):
        part = request.files[start : start + _PUSH_SLICE]
        try:
            stored = [orjson.dumps(f.stored()) for f in part]
        except orjson.JSONEncodeError as exc:
            await redis.delete(files_key)
            raise InvalidRequest(f"files: cannot be stored as JSON ({exc})") from None
        for i, (file, raw) in enumerate(zip(part, stored, strict=True), start):
            digest.update(raw)
            kind = "texts" if dialect == "2025-04-21" and file.kind == "text" else "files"
            if not kinds or kinds[-1][1] != kind:
                kinds.append((i, kind))
        async with redis.pipeline(transaction=False) as pipe:
            pipe.rpush(files_key, *stored)
            pipe.expire(files_key, UNCOMMITTED_TTL_SECONDS)
            await pipe.execute()
    return Stored(kinds, digest.hexdigest())


async def _write_once(
    redis: Redis,
    answer: BatchAccepted,
    definition: dict[str, str | int],
    stored: Stored,
    idem_key: str,
) -> tuple[BatchAccepted, bool]:
    batch_id = answer.batchId
    while True:
        try:
            async with redis.pipeline(transaction=True) as pipe:
                await pipe.watch(idem_key)
                found = await pipe.get(idem_key)
                if found is not None:
                    await redis.delete(keys.batch_files(batch_id))  # never committed
                    return _replay(found, stored.fingerprint), False
                pipe.multi()  # type: ignore[no-untyped-call]
                claim = orjson.dumps({"body": stored.fingerprint, "answer": answer.model_dump()})
                pipe.set(idem_key, claim, ex=IDEMPOTENCY_TTL_SECONDS)
                await _commit(redis, pipe, batch_id, definition, stored.kinds)
                await pipe.execute()
                return answer, True
        except WatchError:
            continue  # a concurrent request with the same key won: read its answer


def _replay(found: bytes, fingerprint: str) -> BatchAccepted:
    data = orjson.loads(found)
    if data.get("body") != fingerprint:
        raise Conflict(
            "Idempotency-Key was already used with a different body", code="idempotency_conflict"
        )
    return BatchAccepted.model_validate(data["answer"])


async def _commit(
    redis: Redis,
    pipe: Any,
    batch_id: str,
    definition: dict[str, str | int],
    kinds: list[tuple[int, str]],
) -> None:
    """The one MULTI that makes the batch exist: definition, files kept, schedule, indexes."""
    now = int(definition["createdAt"])
    pipe.hset(keys.batch(batch_id), mapping=definition)
    pipe.persist(keys.batch_files(batch_id))
    if len(kinds) > 1:
        pipe.zadd(keys.batch_kinds(batch_id), {f"{start}:{kind}": start for start, kind in kinds})
    pipe.zadd(keys.BATCH_INDEX, {batch_id: now})
    pipe.sadd(keys.BATCHES_OPEN, batch_id)
    await scheduler.join(redis, batch_id, pipe)
    await scheduler.kick(redis, pipe)


def _definition(
    request: BatchRequest,
    chunk_size: int,
    dialect: str,
    producer: str,
    kinds: list[tuple[int, str]],
) -> dict[str, str | int]:
    fields: dict[str, str | int] = {
        "workflowId": request.workflowId,
        "files": len(request.files),
        "chunks": 0,
        "next": 0,
        "chunkSize": chunk_size,
        "kind": kinds[0][1],
        "producer": producer,
        "dialect": dialect,
        "state": "submitting",
        "createdAt": queue.now_ms(),
        "metadata": orjson.dumps(request.metadata or {}).decode(),
    }
    for name in ("chunksSubmitted", "chunksFailed", "chunksCancelled", "filesSent"):
        fields[name] = 0
    for name in ("submitFailed", "unsent", "duplicateRuns"):
        fields[name] = 0
    for status in BATCH_COUNTED:
        fields["c:" + status] = 0
    if request.version is not None:
        fields["version"] = request.version
    if request.priority is not None:
        fields["priority"] = request.priority
    if request.weight is not None:
        fields["weight"] = repr(float(request.weight))
    return fields


async def load(redis: Redis, batch_id: str) -> dict[str, str]:
    raw = await redis.hgetall(keys.batch(batch_id))  # type: ignore[misc]
    if not raw or b"files" not in raw:
        raise NotFound(f"no batch {batch_id!r}")
    return {k.decode(): v.decode() for k, v in raw.items()}


def all_keys(batch_id: str, files: int, chunks: int) -> list[str]:
    """Every key a batch owns (its entries in shared indexes aside)."""
    own = [
        keys.batch(batch_id),
        keys.batch_files(batch_id),
        keys.batch_errors(batch_id),
        keys.batch_run_files(batch_id),
        keys.batch_parked(batch_id),
        keys.batch_platform_batches(batch_id),
        keys.batch_kinds(batch_id),
    ]
    own += [keys.batch_chunk(batch_id, n) for n in range(chunks)]
    return own + runmap.keys_of(batch_id, 0, files)


async def expire_finished(redis: Redis, batch_id: str, retention_ms: int) -> bool:
    """Let a completed or cancelled batch expire with its keys after the retention (0: kept)."""
    if retention_ms <= 0:
        return False
    raw = await redis.hmget(keys.batch(batch_id), ["completedAt", "files", "chunks"])  # type: ignore[misc]
    if raw[0] is None:
        return False  # still open: open work never expires
    files, chunks = int(raw[1] or 0), int(raw[2] or 0)
    async with redis.pipeline(transaction=False) as pipe:
        for key in all_keys(batch_id, files, chunks):
            pipe.pexpire(key, retention_ms)
        retention.touch_index(pipe, keys.BATCH_INDEX, queue.now_ms(), retention_ms)
        await pipe.execute()
    return True


async def cancel(redis: Redis, batch_id: str) -> str:
    """Mark the batch cancelled and queue the job that cancels its runs on the platform."""
    now = queue.now_ms()
    job_id = queue.cancel_job_id(batch_id)
    done_id = queue.batch_completed_job_id(batch_id)
    outcome = await scripts.CANCEL_BATCH(
        redis,
        keys={
            "batch": keys.batch(batch_id),
            "done_job": queue.JOB_KEY_PREFIX + done_id,
            "queue": queue.QUEUE,
            "cancel_job": queue.JOB_KEY_PREFIX + job_id,
            "levels": keys.SCHED_LEVELS,
            "open_batches": keys.BATCHES_OPEN,
        },
        args={
            "now": now,
            "cancel_job": queue.job_bytes(queue.CANCEL_BATCH, [batch_id], now),
            "cancel_job_id": job_id,
            "done_job": queue.job_bytes(queue.BATCH_COMPLETED, [batch_id], now),
            "done_job_id": done_id,
            "batch_id": batch_id,
            "default_priority": scheduler.DEFAULT_PRIORITY,
            "level_prefix": keys.SCHED_LEVEL,
            "weights_suffix": keys.SCHED_WEIGHTS_SUFFIX,
            "producer_infix": keys.SCHED_PRODUCER_INFIX,
        },
    )
    if int(outcome) == -1:
        raise NotFound(f"no batch {batch_id!r}")
    return {0: "already_completed", 1: "already_cancelled", 2: "cancelled"}[int(outcome)]

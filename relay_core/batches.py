"""The batch store: create a batch with its chunks and jobs in one step, read it, cancel it.

A batch is the hash `relay:batch:{id}` (definition, state and the counters relay_core.lua's
APPLY_RUN and relay_core.batch_lua keep), its file list, one hash per chunk and one arq job per
chunk (`chunk:{batch}:{n}`). Everything is written in one MULTI, so a batch exists with all its
jobs or not at all.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import WatchError

from relay_core import batch_lua, keys, queue, retention, runmap
from relay_core.errors import Conflict, NotFound
from relay_core.models import BatchAccepted, BatchRequest
from relay_core.status import BATCH_COUNTED

IDEMPOTENCY_TTL_SECONDS = 24 * 3600
_PUSH_SLICE = 1000


@dataclass(frozen=True, slots=True)
class Chunk:
    start: int
    end: int  # exclusive
    kind: str  # "files" or "texts" (2025-04-21 sends texts as rawTexts, never mixed)

    @property
    def size(self) -> int:
        return self.end - self.start


def plan_chunks(request: BatchRequest, size: int, dialect: str) -> list[Chunk]:
    """Contiguous ranges of at most `size` files; 2025-04-21 never mixes texts with files."""
    split_kinds = dialect == "2025-04-21"
    chunks: list[Chunk] = []
    start = 0
    for index, file in enumerate(request.files):
        kind = "texts" if split_kinds and file.kind == "text" else "files"
        first = request.files[start]
        first_kind = "texts" if split_kinds and first.kind == "text" else "files"
        if index > start and (index - start >= size or kind != first_kind):
            chunks.append(Chunk(start, index, first_kind))
            start = index
    last = request.files[start]
    chunks.append(
        Chunk(
            start, len(request.files), "texts" if split_kinds and last.kind == "text" else "files"
        )
    )
    return chunks


def new_batch_id() -> str:
    return "rbatch_" + uuid.uuid4().hex[:20]


def idempotency_key(scope: str, key: str) -> str:
    digest = hashlib.sha256(f"{scope}\0{key}".encode()).hexdigest()[:32]
    return keys.IDEMPOTENCY + "batch:" + digest


def body_fingerprint(request: BatchRequest) -> str:
    return hashlib.sha256(orjson.dumps(request.model_dump(exclude_none=True))).hexdigest()


async def create_batch(
    redis: Redis,
    request: BatchRequest,
    *,
    chunk_size: int,
    dialect: str,
    idempotency: str | None = None,
) -> tuple[BatchAccepted, bool]:
    """Store the batch and queue its chunks; (answer, created). A replayed key gives the first."""
    batch_id = new_batch_id()
    chunks = plan_chunks(request, chunk_size, dialect)
    answer = BatchAccepted(
        batchId=batch_id,
        files=len(request.files),
        chunks=len(chunks),
        statusUrl=f"/v1/batches/{batch_id}",
    )
    if idempotency is None:
        async with redis.pipeline(transaction=True) as pipe:
            _queue_writes(pipe, request, answer, chunks, chunk_size, dialect)
            await pipe.execute()
        return answer, True
    return await _write_once(redis, request, answer, chunks, chunk_size, dialect, idempotency)


async def _write_once(
    redis: Redis,
    request: BatchRequest,
    answer: BatchAccepted,
    chunks: list[Chunk],
    chunk_size: int,
    dialect: str,
    idem_key: str,
) -> tuple[BatchAccepted, bool]:
    fingerprint = body_fingerprint(request)
    while True:
        try:
            async with redis.pipeline(transaction=True) as pipe:
                await pipe.watch(idem_key)
                stored = await pipe.get(idem_key)
                if stored is not None:
                    return _replay(stored, fingerprint), False
                pipe.multi()  # type: ignore[no-untyped-call]
                claim = orjson.dumps({"body": fingerprint, "answer": answer.model_dump()})
                pipe.set(idem_key, claim, ex=IDEMPOTENCY_TTL_SECONDS)
                _queue_writes(pipe, request, answer, chunks, chunk_size, dialect)
                await pipe.execute()
                return answer, True
        except WatchError:
            continue  # a concurrent request with the same key won: read its answer


def _replay(stored: bytes, fingerprint: str) -> BatchAccepted:
    data = orjson.loads(stored)
    if data.get("body") != fingerprint:
        raise Conflict(
            "Idempotency-Key was already used with a different body", code="idempotency_conflict"
        )
    return BatchAccepted.model_validate(data["answer"])


def _queue_writes(
    pipe: Any,
    request: BatchRequest,
    answer: BatchAccepted,
    chunks: list[Chunk],
    chunk_size: int,
    dialect: str,
) -> None:
    batch_id, now = answer.batchId, queue.now_ms()
    pipe.hset(
        keys.batch(batch_id), mapping=_definition(request, len(chunks), chunk_size, dialect, now)
    )
    stored = [orjson.dumps(f.stored()) for f in request.files]
    for i in range(0, len(stored), _PUSH_SLICE):
        pipe.rpush(keys.batch_files(batch_id), *stored[i : i + _PUSH_SLICE])
    for n, chunk in enumerate(chunks):
        fields = {"start": chunk.start, "end": chunk.end, "kind": chunk.kind, "state": "pending"}
        pipe.hset(keys.batch_chunk(batch_id, n), mapping=fields)
        job_id = queue.chunk_job_id(batch_id, n)
        job = queue.job_bytes(queue.SUBMIT_CHUNK, [batch_id, n], now)
        pipe.set(queue.JOB_KEY_PREFIX + job_id, job, px=queue.JOB_EXPIRES_MS)
        pipe.zadd(queue.QUEUE, {job_id: now})
    pipe.zadd(keys.BATCH_INDEX, {batch_id: now})
    pipe.sadd(keys.BATCHES_OPEN, batch_id)


def _definition(
    request: BatchRequest, chunks: int, chunk_size: int, dialect: str, now: int
) -> dict[str, str | int]:
    fields: dict[str, str | int] = {
        "workflowId": request.workflowId,
        "files": len(request.files),
        "chunks": chunks,
        "chunkSize": chunk_size,
        "dialect": dialect,
        "state": "submitting",
        "createdAt": now,
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


async def recent(redis: Redis, limit: int, offset: int) -> tuple[list[dict[str, Any]], int | None]:
    """The most recent batches first (the dashboard's list), and the offset of the next page."""
    ids = await redis.zrevrange(keys.BATCH_INDEX, offset, offset + limit)
    page = [i.decode() for i in ids[:limit]]
    async with redis.pipeline(transaction=False) as pipe:
        for batch_id in page:
            pipe.hgetall(keys.batch(batch_id))
        raws = await pipe.execute()
    views = [
        view(batch_id, {k.decode(): v.decode() for k, v in raw.items()})
        for batch_id, raw in zip(page, raws, strict=True)
        if raw and b"files" in raw
    ]
    expired = [b for b, raw in zip(page, raws, strict=True) if not raw]
    if expired:
        await redis.zrem(keys.BATCH_INDEX, *expired)  # past their retention: out of the listing
    return views, (offset + limit if len(ids) > limit else None)


def view(batch_id: str, h: dict[str, str]) -> dict[str, Any]:
    """GET /v1/batches/{id}: built from the hash's counters alone (O(1) in the batch size)."""

    def num(name: str) -> int:
        return int(h.get(name, "0") or 0)

    runs = {status: max(0, num("c:" + status)) for status in BATCH_COUNTED}
    # Files whose chunk was accepted but of which no event has arrived yet (2026-02-09 batches
    # answer with a platform batch id only) are shown as PENDING, which is what they are.
    runs["PENDING"] += max(0, num("filesSent") - sum(runs.values()))
    failed, unsent = num("submitFailed"), num("unsent")
    return {
        "batchId": batch_id,
        "workflowId": h.get("workflowId"),
        "version": h.get("version"),
        "priority": int(h["priority"]) if "priority" in h else None,
        "metadata": orjson.loads(h.get("metadata") or "{}"),
        "dialect": h.get("dialect"),
        "state": h.get("state"),
        "files": num("files"),
        "chunks": {
            "total": num("chunks"),
            "submitted": num("chunksSubmitted"),
            "failed": num("chunksFailed"),
            "cancelled": num("chunksCancelled"),
            "size": num("chunkSize"),
        },
        "runs": runs,
        "notSubmitted": failed + unsent,
        "submitFailed": failed,
        "unsent": unsent,
        "queued": max(0, num("files") - num("filesSent") - failed - unsent),
        "duplicateRuns": num("duplicateRuns"),
        "createdAt": _iso(h.get("createdAt")),
        "completedAt": _iso(h.get("completedAt")),
        "cancelledAt": _iso(h.get("cancelledAt")),
    }


def _iso(ms: str | None) -> str | None:
    if not ms:
        return None
    from datetime import UTC, datetime

    return datetime.fromtimestamp(int(ms) / 1000, UTC).isoformat().replace("+00:00", "Z")


async def cancel(redis: Redis, batch_id: str) -> str:
    """Mark the batch cancelled and queue the job that cancels its runs on the platform."""
    now = queue.now_ms()
    job_id = queue.cancel_job_id(batch_id)
    job = queue.job_bytes(queue.CANCEL_BATCH, [batch_id], now)
    script_keys = [
        keys.batch(batch_id),
        queue.JOB_KEY_PREFIX + queue.batch_completed_job_id(batch_id),
        queue.QUEUE,
        queue.JOB_KEY_PREFIX + job_id,
    ]
    outcome = await batch_lua.run(redis, batch_lua.CANCEL, script_keys, [now, job, job_id])
    if int(outcome) == -1:
        raise NotFound(f"no batch {batch_id!r}")
    return {0: "already_completed", 1: "already_cancelled", 2: "cancelled"}[int(outcome)]

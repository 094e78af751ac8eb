"""submit_chunk: send one chunk of a batch to Extend, exactly one run per file.

The chunk's state lives in Redis and is written before the request leaves (`sending`, with
the files and the time), so a retry or a worker that finds the chunk after a crash knows the
outcome is unknown and looks (worker.batches.lookup) before it sends again. Rate-limit waits
are not failures: the job defers itself without counting an attempt. Transient failures retry
on a bounded, jittered exponential schedule (relay_core.retry); permanent ones mark the files
failed with the platform's message.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Any, NoReturn

from arq import Retry

from relay_core import keys
from relay_core.batches.metadata import META_BATCH, META_CHUNK, META_FILE, META_SEND
from relay_core.platforms.extend_runs import V2026, Submission
from relay_core.platforms.http import PlatformError
from relay_core.redis import queue
from relay_core.scheduler import state as scheduler
from relay_core.scheduler.ratelimit import TooLong
from relay_core.settings import ConfigError
from worker.batches.chunkstate import (
    SETTLED,
    BatchInfo,
    ChunkState,
    NotReplicated,
    begin_send,
    files_of,
    load_batch,
    load_chunk,
    map_runs,
    set_state,
    settle,
    unresolved,
)
from worker.batches.lookup import look
from worker.context import WorkerContext, context
from worker.runs.record import record, run_update

log = logging.getLogger(__name__)

# Wait this long in the job for a rate-limit slot; longer waits defer the job instead.
MAX_INLINE_WAIT_SECONDS = 8.0
CHUNK_JOB_TIMEOUT_SECONDS = 40
CHUNK_BUDGET_SECONDS = CHUNK_JOB_TIMEOUT_SECONDS - 5
# A reserved slot this far in the past belongs to a try that never sent (a killed worker).
STALE_SLOT_MS = 2000
# arq counts every deferral as a try; the chunk counts real attempts itself.
CHUNK_MAX_TRIES = 10_000
_FILE_IN_ERROR = re.compile(r"\b(?:inputs|files|rawTexts)\[(\d+)\]")


async def submit_chunk(ctx: dict[str, Any], batch_id: str, n: int) -> dict[str, Any]:
    started = time.perf_counter()
    wc = context(ctx)
    redis = wc.redis
    batch, chunk = await load_batch(redis, batch_id), await load_chunk(redis, batch_id, n)
    if batch is None or chunk is None or chunk.state in SETTLED:
        return {"batchId": batch_id, "chunk": n, "outcome": "settled"}
    try:
        async with asyncio.timeout(CHUNK_BUDGET_SECONDS):
            outcome = await _advance(wc, batch, chunk)
    except ConfigError as exc:
        log.error("submit_chunk batch=%s chunk=%d waits: %s", batch_id, n, exc)
        raise Retry(defer=60) from None
    except TimeoutError:
        # arq does not retry a job it timed out: stop first, and try again. The chunk's state
        # in Redis says what is known (a send cut short stays `sending`: the next try looks).
        log.warning("submit_chunk batch=%s chunk=%d ran out of time, retrying", batch_id, n)
        raise Retry(defer=1) from None
    # The dispatcher may have ended (or died) meanwhile: a chunk's end is a cheap kick.
    await scheduler.kick(redis)
    log.info(
        "submit_chunk batch=%s chunk=%d outcome=%s try=%d ms=%.1f",
        batch_id,
        n,
        outcome,
        wc.job_try,
        (time.perf_counter() - started) * 1000,
    )
    return {"batchId": batch_id, "chunk": n, "outcome": outcome}


async def _advance(wc: WorkerContext, batch: BatchInfo, chunk: ChunkState) -> str:
    redis = wc.redis
    if chunk.state == "sending":
        try:
            await look(wc, batch, chunk)
        except PlatformError as exc:
            await _look_failed(wc, chunk, exc)
        chunk = await load_chunk(redis, batch.batch_id, chunk.n) or chunk
        if chunk.state in SETTLED:
            return "found"
        await set_state(redis, chunk, "pending", None)
    remaining = await unresolved(redis, chunk)
    if not remaining:
        await settle(redis, chunk, "sent")
        return "sent"
    if batch.state == "cancelled":
        return await _cancel(redis, chunk, remaining)
    if chunk.attempts >= wc.chunk_send.attempts:
        return await _fail(redis, chunk, remaining, "gave up after repeated transient errors")
    return await _send(wc, batch, chunk, remaining)


async def _send(
    wc: WorkerContext, batch: BatchInfo, chunk: ChunkState, remaining: list[int]
) -> str:
    redis, settings = wc.redis, wc.settings
    await _take_slot(wc, chunk, len(remaining))
    submission = _submission(
        batch, chunk, remaining, await files_of(redis, batch.batch_id, remaining)
    )
    wait_ms = (
        settings.webhooks.ack_timeout_ms if settings.webhooks.ack_durability == "replica" else 0
    )
    try:
        state = await begin_send(redis, chunk, remaining, wait_ms)
    except NotReplicated as exc:
        # Marked `sending` but maybe not where a failover would find it: the next try looks.
        log.warning("submit_chunk %s; retrying", exc)
        raise Retry(defer=1) from None
    if state == "cancel":
        return await _cancel(redis, chunk, remaining)
    if state != "sending":
        return state  # another try got there first
    try:
        platform_batch, runs = await wc.extend.submit(submission)
    except PlatformError as exc:
        return await _on_error(wc, chunk, remaining, exc)
    await _on_sent(wc, batch, chunk, remaining, platform_batch, runs)
    return "sent"


async def _take_slot(wc: WorkerContext, chunk: ChunkState, files: int) -> None:
    """The first send uses the slot the scheduler reserved with the chunk; a resend (after a
    429, an error or a crash) reserves its own, as the platform's limits count it again."""
    fresh = chunk.sends == 0 and chunk.slot > 0
    if fresh and queue.now_ms() - chunk.slot < STALE_SLOT_MS:
        wait_ms = chunk.slot - queue.now_ms()
        if wait_ms > 0:
            await asyncio.sleep(min(wait_ms, MAX_INLINE_WAIT_SECONDS * 1000) / 1000)
        return
    try:
        await wc.limiter.acquire("RUN", files, MAX_INLINE_WAIT_SECONDS)
    except TooLong as exc:
        raise Retry(defer=max(1.0, exc.wait_seconds - MAX_INLINE_WAIT_SECONDS / 2)) from None


def _submission(
    batch: BatchInfo, chunk: ChunkState, indexes: list[int], files: list[dict[str, Any]]
) -> Submission:
    relay = {META_BATCH: batch.batch_id, META_CHUNK: chunk.n}
    per_file = [
        {**batch.metadata, **f.get("metadata", {}), **relay, META_FILE: i}
        for i, f in zip(indexes, files, strict=True)
    ]
    return Submission(
        workflow_id=batch.workflow_id,
        version=batch.version,
        priority=batch.priority,
        files=files,
        metadata=per_file,
        # 2025-04-21 has one metadata per request: the send number tells a look which runs.
        request_metadata={**batch.metadata, **relay, META_SEND: chunk.sends + 1},
        texts=chunk.kind == "texts",
    )


async def _on_sent(
    wc: WorkerContext,
    batch: BatchInfo,
    chunk: ChunkState,
    indexes: list[int],
    platform_batch: str | None,
    runs: list[dict[str, Any]],
) -> None:
    redis = wc.redis
    if batch.dialect != V2026:
        mapping = {str(r.get("id")): i for r, i in zip(runs, indexes, strict=True)}
        await map_runs(redis, batch.batch_id, mapping)
        updates = [run_update(r, i) for r, i in zip(runs, indexes, strict=True)]
        await record(wc, "answer", [u for u in updates if u is not None])
    await settle(redis, chunk, "sent", platform_batch=platform_batch or "")
    await wc.limiter.clear_strikes()
    if await redis.hget(keys.batch(batch.batch_id), "state") == b"cancelled":  # type: ignore[misc]
        # Cancelled while this send was in flight: its runs must be cancelled too.
        job_id = queue.cancel_job_id(batch.batch_id, f"chunk{chunk.n}")
        await redis.enqueue_job(queue.CANCEL_BATCH, batch.batch_id, _job_id=job_id)


async def _on_error(
    wc: WorkerContext, chunk: ChunkState, remaining: list[int], exc: PlatformError
) -> str:
    redis = wc.redis
    if exc.status == 429:
        paused = await wc.limiter.pause(exc.retry_after)
        await set_state(redis, chunk, "pending", str(exc))
        raise Retry(defer=max(paused, 0.05)) from None
    if exc.ambiguous or exc.retryable:
        # Ambiguous: stay `sending`, so the next try looks before it sends again.
        attempts = await set_state(
            redis, chunk, "sending" if exc.ambiguous else "pending", str(exc)
        )
        raise Retry(defer=wc.chunk_send.backoff.delay(attempts)) from None
    await set_state(redis, chunk, "pending", None)
    bad = _bad_file(exc, remaining)
    if bad is not None:
        await settle(redis, chunk, "files", {bad: _reason("SUBMIT_FAILED", exc)})
        raise Retry(defer=0.05) from None  # send the rest of the chunk without that file
    return await _fail(redis, chunk, remaining, exc.message, exc.status)


async def _look_failed(wc: WorkerContext, chunk: ChunkState, exc: PlatformError) -> NoReturn:
    """The send's outcome is still unknown: stay `sending` and look again later, never guess."""
    if exc.status == 429:
        paused = await wc.limiter.pause(exc.retry_after)
        raise Retry(defer=max(paused, 0.05)) from None
    attempts = await set_state(wc.redis, chunk, "sending", f"look failed: {exc}")
    raise Retry(defer=wc.chunk_send.backoff.delay(attempts)) from None


def _bad_file(exc: PlatformError, remaining: list[int]) -> int | None:
    """The file a 400 names (`inputs[3].file.url ...`), when it names exactly one."""
    if exc.status != 400 or len(remaining) < 2:
        return None
    found = {int(m) for m in _FILE_IN_ERROR.findall(exc.message)}
    if len(found) != 1:
        return None
    position = found.pop()
    return remaining[position] if position < len(remaining) else None


def _reason(status: str, exc: PlatformError | None = None, message: str = "") -> dict[str, str]:
    text = exc.message if exc is not None else message
    out = {"status": status, "message": text[:1000]}
    if exc is not None and exc.status is not None:
        out["httpStatus"] = str(exc.status)
    return out


async def _fail(
    redis: Any, chunk: ChunkState, remaining: list[int], message: str, status: int | None = None
) -> str:
    reason = {"status": "SUBMIT_FAILED", "message": message[:1000]}
    if status is not None:
        reason["httpStatus"] = str(status)
    await settle(redis, chunk, "failed", dict.fromkeys(remaining, reason))
    log.warning(
        "chunk failed batch=%s chunk=%d files=%d: %s",
        chunk.batch_id,
        chunk.n,
        len(remaining),
        message,
    )
    return "failed"


async def _cancel(redis: Any, chunk: ChunkState, remaining: list[int]) -> str:
    reason = {"status": "UNSENT", "message": "the batch was cancelled before this file was sent"}
    await settle(redis, chunk, "cancelled", dict.fromkeys(remaining, reason))
    return "cancelled"

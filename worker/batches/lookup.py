"""Look before sending again: find the runs a send of unknown outcome created.

The platform has no idempotency keys, so after a timeout, a dropped connection, a 5xx after
sending, or a chunk left `sending` by a killed worker, the fan-out lists the workflow's runs
created since the send (newest first, within the GET limit) and matches the metadata it put on
them. 2026-02-09 batches are all-or-nothing: finding one run of the send finds the platform
batch, hence every file. 2025-04-21 runs carry the chunk and the send number in their
request-level metadata, and come in request order.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from relay_core import keys
from relay_core.batches.metadata import META_BATCH, META_CHUNK, META_SEND
from relay_core.platforms.extend_runs import V2026
from worker.batches.chunkstate import BatchInfo, ChunkState, map_runs, settle
from worker.context import WorkerContext
from worker.runs.record import record, run_update

log = logging.getLogger(__name__)

# Our clock and the platform's may differ: look this much further back than the send.
SKEW_MS = 120_000
PAGE_SIZE = "1000"


async def look(wc: WorkerContext, batch: BatchInfo, chunk: ChunkState) -> int:
    """Record what the unknown send created; return how many files it covered."""
    if batch.dialect == V2026:
        platform_batch = await _find_platform_batch(wc, batch, chunk)
        if platform_batch is None:
            return 0
        await settle(wc.redis, chunk, "sent", platform_batch=platform_batch)
        return len(chunk.sending)
    runs = await _find_runs_2025(wc, batch, chunk)
    mapping = dict(zip((r["id"] for r in runs), chunk.sending, strict=False))
    await map_runs(wc.redis, batch.batch_id, mapping)
    updates = [run_update(r, mapping[r["id"]]) for r in runs if r["id"] in mapping]
    await record(wc, "look", [u for u in updates if u is not None])
    return len(mapping)


async def recent_runs(
    wc: WorkerContext, workflow_id: str, since_ms: int
) -> AsyncIterator[dict[str, Any]]:
    """The workflow's runs created at or after `since_ms`, newest first, page by page."""
    params = {
        "workflowId": workflow_id,
        "sortBy": "createdAt",
        "sortDir": "desc",
        "maxPageSize": PAGE_SIZE,
    }
    while True:
        await wc.limiter.acquire_blocking("GET")
        page = await wc.extend.list(params)
        for run in page.runs:
            if _ms(run.get("createdAt")) < since_ms:
                return
            yield run
        if page.next_token is None:
            return
        params = {**params, "nextPageToken": page.next_token}


async def get_run(wc: WorkerContext, run_id: str) -> dict[str, Any]:
    await wc.limiter.acquire_blocking("GET")
    return await wc.extend.get(run_id)


async def _fetch_cached(wc: WorkerContext, run_id: str) -> dict[str, Any]:
    return await wc.run_cache.get(run_id, lambda r: get_run(wc, r))


def _ours(run: dict[str, Any], batch: BatchInfo, chunk: ChunkState) -> bool:
    meta = run.get("metadata")
    if not isinstance(meta, dict):
        return False
    return meta.get(META_BATCH) == batch.batch_id and meta.get(META_CHUNK) == chunk.n


async def _find_platform_batch(
    wc: WorkerContext, batch: BatchInfo, chunk: ChunkState
) -> str | None:
    raw = await wc.redis.hkeys(keys.batch_platform_batches(batch.batch_id))  # type: ignore[misc]
    checked = {k.decode() for k in raw}
    async for summary in recent_runs(wc, batch.workflow_id, chunk.sent_at - SKEW_MS):
        platform_batch = summary.get("batchId")
        if not isinstance(platform_batch, str) or platform_batch in checked:
            continue
        checked.add(platform_batch)
        # List items carry no metadata: one GET per unknown platform batch tells whose it is.
        if _ours(await _fetch_cached(wc, str(summary["id"])), batch, chunk):
            log.info(
                "look found batch=%s chunk=%d platform_batch=%s",
                batch.batch_id,
                chunk.n,
                platform_batch,
            )
            return platform_batch
    return None


async def _find_runs_2025(
    wc: WorkerContext, batch: BatchInfo, chunk: ChunkState
) -> list[dict[str, Any]]:
    redis = wc.redis
    sending = {str(i) for i in chunk.sending}
    found: list[dict[str, Any]] = []
    async for summary in recent_runs(wc, batch.workflow_id, chunk.sent_at - SKEW_MS):
        run_id = str(summary.get("id"))
        run_files = keys.batch_run_files(batch.batch_id)
        mapped = await redis.hget(run_files, run_id)  # type: ignore[misc]
        # Mapped to another file: the answer of another send. Mapped to one of this send's files:
        # a worker killed between mapping this send's answer and settling the chunk.
        if mapped is not None and mapped.decode() not in sending:
            continue
        run = await _fetch_cached(wc, run_id)
        if _ours(run, batch, chunk) and run.get("metadata", {}).get(META_SEND) == chunk.sends:
            found.append(run)
    found.reverse()  # listed newest first; the request created them in file order
    log.info("look found batch=%s chunk=%d runs=%d", batch.batch_id, chunk.n, len(found))
    return found


def _ms(value: object) -> int:
    if not isinstance(value, str):
        return 0
    try:
        return int(datetime.fromisoformat(value).timestamp() * 1000)
    except ValueError:
        return 0

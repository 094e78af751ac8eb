"""A batch's results, in file order: each file's run, status and extracted outputs.

Outputs are read from the platform (GET /workflow_runs/{id}: 2026-02-09 `stepRuns`, 2025-04-21
`outputs`; relay_core.evals.outputs reads both) within the shared GET rate limit, several at a
time, a page of files at a time: nothing of them is stored, so the memory held is one page.
The cursor is the next file index; a line's `fileIndex` + 1 resumes after it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
from redis.asyncio import Redis

from relay_core import keys, retry
from relay_core.batches import runs as batch_runs
from relay_core.evals.outputs import extracted_values
from relay_core.platforms.extend_runs import ExtendRuns
from relay_core.platforms.http import PlatformError
from relay_core.scheduler.ratelimit import RateLimiter

PAGE = 100
IN_FLIGHT = 8
# Runs whose platform record may hold extracted values (a failed or cancelled run has none).
WITH_OUTPUTS = frozenset({"PROCESSED", "NEEDS_REVIEW", "REJECTED"})


class Results:
    def __init__(self, redis: Redis, extend: ExtendRuns, limiter: RateLimiter) -> None:
        self.redis = redis
        self.extend = extend
        self.limiter = limiter
        self.gate = asyncio.Semaphore(IN_FLIGHT)

    async def lines(
        self, batch_id: str, files: int, cursor: int, cut_at: int | None
    ) -> AsyncIterator[bytes]:
        """One NDJSON line per file from `cursor` on, a page at a time."""
        while cursor < files:
            page = await batch_runs.runs_page(
                self.redis, batch_id, files, status=None, cursor=cursor, limit=PAGE, cut_at=cut_at
            )
            facts = await self._run_facts([i["runId"] for i in page.items if i["runId"]])
            outputs = await asyncio.gather(*(self._outputs(i) for i in page.items))
            for item, found in zip(page.items, outputs, strict=True):
                yield orjson.dumps(_line(item, facts.get(item["runId"] or ""), found)) + b"\n"
            if page.next_cursor is None:
                return
            cursor = int(page.next_cursor)

    async def _run_facts(self, run_ids: list[str]) -> dict[str, list[bytes | None]]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for run_id in run_ids:
                pipe.hmget(keys.run(run_id), ["rv", "rc", "fr"])
            raws = await pipe.execute()
        return dict(zip(run_ids, raws, strict=True))

    async def _outputs(self, item: dict[str, Any]) -> dict[str, Any]:
        if not item["runId"] or item["status"] not in WITH_OUTPUTS:
            return {}
        async with self.gate:
            for attempt in range(1, retry.RUN_READ.attempts + 1):
                await self.limiter.acquire_blocking("GET")
                try:
                    run = await self.extend.get(item["runId"])
                except PlatformError as exc:
                    if exc.status == 429:
                        await self.limiter.pause(exc.retry_after)
                    if not exc.retryable or attempt == retry.RUN_READ.attempts:
                        return {"outputsError": str(exc)}
                    await asyncio.sleep(retry.RUN_READ.backoff.delay(attempt))
                    continue
                await self.limiter.clear_strikes()
                return {"outputs": extracted_values(run), "platform": run}
        return {}


def _line(
    item: dict[str, Any], facts: list[bytes | None] | None, found: dict[str, Any]
) -> dict[str, Any]:
    file = {k: v for k, v in item["file"].items() if k != "text"}  # a text is not repeated
    reviewed, review_done, reason = facts or [None, None, None]
    run = found.get("platform") or {}
    line: dict[str, Any] = {
        "fileIndex": item["fileIndex"],
        "file": file,
        "runId": item["runId"],
        "status": item["status"],
        "reviewed": bool(reviewed or review_done or run.get("reviewed") is True),
    }
    failure = reason.decode() if reason else run.get("failureReason") or item.get("error")
    if failure:
        line["failureReason"] = failure
    line["outputs"] = found.get("outputs")
    if "outputsError" in found:
        line["outputsError"] = found["outputsError"]
    return line

"""GET /v1/batches/{id}/runs: the batch's files in order, each with its run (or why it has none).

The cursor is a file index. A status filter scans at most SCAN_WINDOW files per page, so a
page may hold fewer than `limit` items and still have a next cursor: keep following it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from redis.asyncio import Redis

from relay_core import keys
from relay_core.batches import runmap
from relay_core.errors import InvalidRequest
from relay_core.params import is_digits
from relay_core.runs.status import RANK

SCAN_WINDOW = 2000
# A file without a run: failed to submit, never sent (cancelled), or not reported yet.
NO_RUN_STATUSES = ("SUBMIT_FAILED", "UNSENT", "WAITING")


@dataclass(frozen=True, slots=True)
class RunsPage:
    items: list[dict[str, Any]]
    next_cursor: str | None


def parse_status(raw: str | None) -> str | None:
    if not raw:
        return None
    if raw not in RANK and raw not in NO_RUN_STATUSES:
        allowed = ", ".join([*RANK, *NO_RUN_STATUSES])
        raise InvalidRequest(f"status must be one of {allowed}", code="invalid_status")
    return raw


def parse_cursor(raw: str | None) -> int:
    if raw is None or raw == "":
        return 0
    if not is_digits(raw, max_len=12):
        raise InvalidRequest(
            "cursor must be a cursor returned by a previous page", code="invalid_cursor"
        )
    return int(raw)


async def runs_page(
    redis: Redis,
    batch_id: str,
    files: int,
    *,
    status: str | None,
    cursor: int,
    limit: int,
    cut_at: int | None = None,
) -> RunsPage:
    """`cut_at`: a cancelled batch's first file never scheduled (it and those after it, with
    neither run nor error, were never sent)."""
    end = min(files, cursor + (limit if status is None else max(limit, SCAN_WINDOW)))
    if cursor >= end:
        return RunsPage([], None)
    indexes = [str(i) for i in range(cursor, end)]
    async with redis.pipeline(transaction=False) as pipe:
        pipe.lrange(keys.batch_files(batch_id), cursor, end - 1)
        pipe.hmget(keys.batch_errors(batch_id), indexes)
        raw_files, errors = await pipe.execute()
    run_ids = await runmap.run_ids(redis, batch_id, range(cursor, end))
    statuses = await _statuses(redis, [r.decode() for r in run_ids if r])
    items: list[dict[str, Any]] = []
    for offset, raw in enumerate(raw_files):
        item = _item(cursor + offset, raw, run_ids[offset], errors[offset], statuses, cut_at)
        if status is None or item["status"] == status:
            items.append(item)
            if len(items) == limit:
                nxt = cursor + offset + 1
                return RunsPage(items, str(nxt) if nxt < files else None)
    return RunsPage(items, str(end) if end < files else None)


async def _statuses(redis: Redis, run_ids: list[str]) -> dict[str, str]:
    if not run_ids:
        return {}
    async with redis.pipeline(transaction=False) as pipe:
        for run_id in run_ids:
            pipe.hget(keys.run(run_id), "s")
        found = await pipe.execute()
    return {r: s.decode() for r, s in zip(run_ids, found, strict=True) if s}


def _item(
    index: int,
    raw: bytes,
    run: bytes | None,
    error: bytes | None,
    statuses: dict[str, str],
    cut_at: int | None,
) -> dict[str, Any]:
    item: dict[str, Any] = {"fileIndex": index, "file": orjson.loads(raw), "runId": None}
    if run:
        run_id = run.decode()
        item.update(runId=run_id, status=statuses.get(run_id, "PENDING"))
    elif error:
        reason = orjson.loads(error)
        item.update(status=reason.get("status", "SUBMIT_FAILED"), error=reason.get("message"))
    elif cut_at is not None and index >= cut_at:
        item.update(status="UNSENT", error="the batch was cancelled before this file was sent")
    else:
        item["status"] = "WAITING"
    return item

"""Tracked run state in Redis: applying what events say, and reading it back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from relay_core import keys
from relay_core.batches import runmap
from relay_core.batches.metadata import META_BATCH, META_CHUNK, META_FILE, META_SEND
from relay_core.params import is_digits
from relay_core.redis import queue, scripts
from relay_core.runs import expiry as runexpiry
from relay_core.runs.events import RunUpdate
from relay_core.runs.status import HISTORY_CODES

# Metadata keys workflow-relay adds to every run it submits (relay_core.batches.metadata), so each
# event maps to its file.
_RELAY_META = {
    META_BATCH: "rb",
    META_FILE: "fi",
    META_CHUNK: "rk",
    META_SEND: "rs",
}
_FIELD_NAMES = {
    "workflow_id": "w",
    "workflow_version": "v",
    "batch_id": "b",
    "reviewed_at": "ra",
    "reviewed_by": "ru",
    "rejection_note": "rn",
    "failure_reason": "fr",
    "failure_message": "fm",
    "last_step": "st",
}


@dataclass(slots=True, frozen=True)
class ApplyResult:
    changed: bool
    previous: str | None
    review_completed: bool
    batch_completed: bool


class RunStore:
    def __init__(
        self,
        redis: Redis,
        history_limit: int = 20,
        retention_ms: int = 0,
        expiry_bucket_ms: int = runexpiry.BUCKET_MS,
    ) -> None:
        self.redis = redis
        self.history_limit = history_limit
        self.retention_ms = retention_ms  # 0: terminal runs never expire
        self.expiry_bucket_ms = expiry_bucket_ms  # shorter only in the soak's compressed time

    async def queue_apply(
        self, pipe: Pipeline, update: RunUpdate, event_id: str, now_ms: int
    ) -> None:
        """Add the atomic apply of `update` to a pipeline (one round trip for many events)."""
        batch_id, file_index = relay_file(update.metadata)
        bucket = runexpiry.bucket_of(now_ms, self.expiry_bucket_ms)
        job_id = queue.batch_completed_job_id(batch_id) if batch_id else ""
        job = queue.job_bytes(queue.BATCH_COMPLETED, [batch_id], now_ms) if batch_id else b""
        await scripts.APPLY_RUN.queue(
            pipe,
            keys={
                "run": keys.run(update.run_id),
                "batch": keys.batch(batch_id or "-"),
                "runmap_bucket": runmap.key_of(batch_id or "-", file_index or 0),
                "done_job": queue.JOB_KEY_PREFIX + job_id,
                "queue": queue.QUEUE,
                "open_runs": keys.OPEN_RUNS,
                "expiry_list": keys.run_expiry(bucket),
                "expiry_buckets": keys.RUN_EXPIRY_BUCKETS,
                "reviews": keys.REVIEWS,
            },
            args={
                "status": update.status or "",
                "event_id": event_id,
                "now": now_ms,
                "history_limit": self.history_limit,
                "fields": orjson.dumps(_fields(update)),
                "run_id": update.run_id,
                "file_index": "" if file_index is None else str(file_index),
                "done_job": job,
                "done_job_id": job_id,
                "retention_ms": self.retention_ms,
                "expiry_bucket": bucket,
                "expiry_ttl_ms": runexpiry.list_ttl_ms(self.retention_ms, self.expiry_bucket_ms),
            },
        )

    async def apply_many(
        self, items: list[tuple[RunUpdate, str]], now_ms: int
    ) -> list[ApplyResult]:
        """Apply many updates in one round trip; each update is atomic on its own (and
        idempotent, so the pipeline may run again after a NOSCRIPT)."""

        async def fill(pipe: Pipeline) -> None:
            for update, event_id in items:
                await self.queue_apply(pipe, update, event_id, now_ms)

        return [apply_result(raw) for raw in await scripts.pipelined(self.redis, fill)]

    async def apply(self, update: RunUpdate, event_id: str, now_ms: int) -> ApplyResult:
        (result,) = await self.apply_many([(update, event_id)], now_ms)
        return result

    async def get(self, run_id: str) -> dict[str, Any] | None:
        raw = await self.redis.hgetall(keys.run(run_id))  # type: ignore[misc]
        if not raw:
            return None
        return run_view(run_id, {k.decode(): v.decode() for k, v in raw.items()})


def apply_result(raw: list[Any]) -> ApplyResult:
    previous = raw[1].decode() if isinstance(raw[1], bytes) else str(raw[1])
    return ApplyResult(bool(raw[0]), previous or None, bool(raw[2]), bool(raw[3]))


def relay_file(metadata: dict[str, Any]) -> tuple[str | None, int | None]:
    batch_id, index = metadata.get(META_BATCH), metadata.get(META_FILE)
    if not isinstance(batch_id, str) or not batch_id:
        return None, None
    if isinstance(index, str) and is_digits(index):
        index = int(index)
    return (batch_id, index) if isinstance(index, int) and index >= 0 else (None, None)


def _fields(update: RunUpdate) -> dict[str, str]:
    out = {short: str(getattr(update, name)) for name, short in _FIELD_NAMES.items()}
    out = {k: v for k, v in out.items() if v != "None"}
    # relay's own metadata keys get short fields of their own, so the hash stays compact.
    user = {k: v for k, v in update.metadata.items() if k not in _RELAY_META}
    for key, short in _RELAY_META.items():
        if key in update.metadata:
            out[short] = str(update.metadata[key])
    if user:
        out["m"] = orjson.dumps(user).decode()
    if update.reviewed:
        out["rv"] = "1"
    return out


def _metadata(h: dict[str, str]) -> dict[str, Any]:
    metadata: dict[str, Any] = orjson.loads(h.get("m", "{}"))
    for key, short in _RELAY_META.items():
        if short in h:
            value = h[short]
            numeric = key != META_BATCH and is_digits(value.removeprefix("-"))
            metadata[key] = int(value) if numeric else value
    return metadata


def _history(h: dict[str, str]) -> list[dict[str, Any]]:
    """The ring's entries, oldest first: slot i holds the newest sequence number s <= hn with
    (s - 1) % slots == i. Entries written before the compact form carry "seq|STATUS|id|ms"."""
    slots = [int(name[1:]) for name in h if name[:1] == "h" and is_digits(name[1:])]
    newest, first = int(h.get("hn") or len(slots)), int(h.get("f") or 0)
    entries = []
    for slot in slots:
        value = h[f"h{slot}"]
        if value[:1].isdigit():  # the older form, with its own sequence number and time
            _, status, rest = value.split("|", 2)
            event_id, _, at = rest.rpartition("|")
            ms = int(at)
        else:
            status = HISTORY_CODES.get(value[:1], value[:1])
            event_id, _, delta = value[1:].rpartition("|")
            ms = first + int(delta)
        seq = newest - (newest - 1 - slot) % len(slots)
        entries.append((seq, {"status": status, "eventId": event_id, "at": _iso(ms)}))
    return [entry for _, entry in sorted(entries, key=lambda e: e[0])]


def run_view(run_id: str, h: dict[str, str]) -> dict[str, Any]:
    """The public JSON shape of GET /v1/runs/{runId}."""
    metadata = _metadata(h)
    batch_id, file_index = relay_file(metadata)
    return {
        "runId": run_id,
        "status": h.get("s"),
        "workflowId": h.get("w"),
        "workflowVersion": h.get("v"),
        "batchId": h.get("b"),
        "relayBatchId": batch_id,
        "fileIndex": file_index,
        "metadata": metadata,
        "reviewed": h.get("rv") == "1",
        "reviewedAt": h.get("ra"),
        "reviewCompleted": h.get("rc") == "1",
        "rejectionNote": h.get("rn"),
        "failureReason": h.get("fr"),
        "failureMessage": h.get("fm"),
        "lastStep": h.get("st"),
        "firstSeenAt": _iso(int(h["f"])) if "f" in h else None,
        "updatedAt": _iso(int(h["u"])) if "u" in h else None,
        "history": _history(h),
    }


def _iso(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")

"""An evaluation's Redis state: one hash per evaluation (its id is the deploy's id), indexed by
creation time, plus a cache of the values read from the platform per run.

The plan (pinned versions, golden set, thresholds) is written once, when the evaluation starts,
so every retry scores the same set against the same versions. Values already read are kept, so
a retry after a timeout or a killed worker goes on from where it stopped.
"""

from __future__ import annotations

from typing import Any

import orjson
from redis.asyncio import Redis

from relay_core import keys
from relay_core.redis import queue, scripts

RUNNING, PASSED, FAILED = "running", "passed", "failed"
ROLES = ("candidate", "baseline")
_JSON = ("plan", "batches", "report")
MARKER = "relayEval"  # batch (and so run) metadata: this work is an evaluation's own
ROLE_MARKER = "relayEvalRole"


async def create(redis: Redis, eval_id: str, rule: str, plan: dict[str, Any]) -> dict[str, str]:
    """Write the plan once; a retry gets the first plan back (the deploy's lease keeps a second
    worker out meanwhile, and the hash is written in one command)."""
    found = await load(redis, eval_id)
    if found is not None:
        return found
    now = queue.now_ms()
    fields = {
        "id": eval_id,
        "rule": rule,
        "deployId": eval_id,
        "state": RUNNING,
        "plan": orjson.dumps(plan).decode(),
        "batches": "{}",
        "createdAt": str(now),
    }
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(keys.eval_(eval_id), mapping=fields)
        pipe.zadd(keys.EVALS, {eval_id: now}, nx=True)
        await pipe.execute()
    return fields


async def load(redis: Redis, eval_id: str) -> dict[str, str] | None:
    raw = await redis.hgetall(keys.eval_(eval_id))  # type: ignore[misc]
    if not raw or b"plan" not in raw:
        return None
    return {k.decode(): v.decode() for k, v in raw.items()}


def json_field(record: dict[str, str], name: str) -> Any:
    return orjson.loads(record[name]) if record.get(name) else None


async def set_batch(redis: Redis, eval_id: str, role: str, batch_id: str) -> None:
    record = await load(redis, eval_id)
    batches = json_field(record, "batches") if record else {}
    batches = {**(batches or {}), role: batch_id}
    await redis.hset(keys.eval_(eval_id), "batches", orjson.dumps(batches).decode())  # type: ignore[misc]


async def finish(
    redis: Redis, eval_id: str, state: str, reason: str, report: dict[str, Any]
) -> None:
    fields = {
        "state": state,
        "reason": reason,
        "report": orjson.dumps(report).decode(),
        "finishedAt": str(queue.now_ms()),
    }
    await redis.hset(keys.eval_(eval_id), mapping=fields)  # type: ignore[misc]


async def cached_values(redis: Redis, eval_id: str, role: str) -> dict[int, Any]:
    raw = await redis.hgetall(keys.eval_values(eval_id, role))  # type: ignore[misc]
    return {int(k): orjson.loads(v) for k, v in raw.items()}


async def cache_value(redis: Redis, eval_id: str, role: str, index: int, value: Any) -> None:
    text = orjson.dumps(value).decode()
    await redis.hset(keys.eval_values(eval_id, role), str(index), text)  # type: ignore[misc]


def view(record: dict[str, str], *, full: bool = True) -> dict[str, Any]:
    """GET /v1/evals/{id} (full) and the list items (without per-file details)."""
    plan = json_field(record, "plan") or {}
    report = json_field(record, "report") or {}
    out: dict[str, Any] = {
        "id": record.get("id"),
        "rule": record.get("rule"),
        "deployId": record.get("deployId"),
        "state": record.get("state"),
        "reason": record.get("reason"),
        "candidate": plan.get("candidate"),
        "baseline": plan.get("baseline"),
        "thresholds": plan.get("thresholds"),
        "batches": json_field(record, "batches") or {},
        "accuracy": _get(report, "candidate", "accuracy"),
        "baselineAccuracy": _get(report, "baseline", "accuracy"),
        "files": len(plan.get("golden") or []),
        "createdAt": _iso(record.get("createdAt")),
        "finishedAt": _iso(record.get("finishedAt")),
    }
    if full:
        out["report"] = report or None
    return out


def _get(obj: Any, *path: str) -> Any:
    for name in path:
        obj = obj.get(name) if isinstance(obj, dict) else None
    return obj


def _iso(ms: str | None) -> str | None:
    if not ms:
        return None
    from datetime import UTC, datetime

    return datetime.fromtimestamp(int(ms) / 1000, UTC).isoformat().replace("+00:00", "Z")


async def recent(redis: Redis, limit: int) -> list[dict[str, Any]]:
    ids = await redis.zrevrange(keys.EVALS, 0, limit - 1)
    out = []
    for raw_id in ids:
        record = await load(redis, raw_id.decode())
        if record is not None:
            out.append(view(record, full=False))
    return out


def wake_job_id(eval_id: str, batch_id: str) -> str:
    return f"deploy:{eval_id}:eval:{batch_id}"


async def wake_deploy(redis: Redis, eval_id: str, batch_id: str) -> bool:
    """An evaluation batch completed: queue its deploy's job to score (idempotent)."""
    job_id = wake_job_id(eval_id, batch_id)
    now = queue.now_ms()
    woken = await scripts.EVAL_WAKE_DEPLOY(
        redis,
        keys={"job": queue.JOB_KEY_PREFIX + job_id, "queue": queue.QUEUE},
        args={
            "job": queue.job_bytes(queue.RUN_DEPLOY, [eval_id], now),
            "job_id": job_id,
            "now": now,
        },
    )
    return bool(woken)


def marker_of(metadata: Any) -> str | None:
    """The evaluation a batch's or run's metadata marks it as part of (None: ordinary work)."""
    value = metadata.get(MARKER) if isinstance(metadata, dict) else None
    return value if isinstance(value, str) and value else None

"""The deploy store: one Redis hash per (rule, subject) that is both the claim and the audit trail.

States: `claimed` (queued) -> `calling` (pre-call facts recorded, the platform may have been
called) -> `deployed` | `failed` | `skipped` | `dry_run`. A deploy found in `calling` by a
retry or a second worker may already exist on the platform: the worker looks before it calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from redis.asyncio import Redis

from relay_core import keys
from relay_core.redis import queue, scripts

CLAIMED, CALLING, EVALUATING = "claimed", "calling", "evaluating"
DEPLOYED, FAILED, SKIPPED, DRY_RUN = "deployed", "failed", "skipped", "dry_run"
OPEN = (CLAIMED, EVALUATING, CALLING)
FINAL = frozenset({DEPLOYED, FAILED, SKIPPED, DRY_RUN})
STATUSES = frozenset({*OPEN, *FINAL})
ATTEMPTS_KEPT = 30
BY_HAND = ("manual", "rollback")  # asked for by a person: the automatic gates do not apply
_JSON_FIELDS = ("facts", "request", "attempts", "readBack")


@dataclass(slots=True, frozen=True)
class Subject:
    """What fired: a trigger type and the run or batch id it fired for."""

    trigger: str  # run.completed | review.completed | batch.completed | manual | rollback
    id: str


def deploy_id(rule: str, subject: Subject) -> str:
    prefix = f"{subject.trigger}:" if subject.trigger in BY_HAND else ""
    return f"{rule}:{prefix}{subject.id}"


async def claim(
    redis: Redis,
    rule: str,
    subject: Subject,
    provider: str,
    target: str,
    dry_run: bool,
    extra: dict[str, str] | None = None,
    retention_ms: int = 0,
) -> tuple[str, bool]:
    """Create the deploy and enqueue its job in one step; (id, False) if it already existed."""
    did = deploy_id(rule, subject)
    now = queue.now_ms()
    fields = {
        **(extra or {}),
        "id": did,
        "rule": rule,
        "trigger": subject.trigger,
        "subject": subject.id,
        "provider": provider,
        "target": target,
        "dryRun": "1" if dry_run else "0",
        "status": CLAIMED,
        "createdAt": str(now),
        "updatedAt": str(now),
    }
    job_id = queue.deploy_job_id(did)
    created = await scripts.DEPLOY_CLAIM(
        redis,
        keys={
            "deploy": keys.deploy(did),
            "all": keys.DEPLOYS,
            "by_rule": keys.deploys_by_rule(rule),
            "by_subject": keys.deploys_by_subject(subject.id),
            "by_target": keys.deploys_by_target(provider, target),
            "job": queue.JOB_KEY_PREFIX + job_id,
            "queue": queue.QUEUE,
        },
        args={
            "fields": orjson.dumps(fields),
            "now": now,
            "job": queue.job_bytes(queue.RUN_DEPLOY, [did], now),
            "job_id": job_id,
            "deploy_id": did,
            "retention_ms": retention_ms,
        },
    )
    return did, bool(created)


async def move(
    redis: Redis,
    did: str,
    *,
    allowed: tuple[str, ...] | frozenset[str] = OPEN,
    fields: dict[str, Any] | None = None,
    attempt: dict[str, Any] | None = None,
) -> bool:
    """Set fields (and log an attempt) only while the deploy is in one of `allowed` states."""
    values = {k: _text(v) for k, v in (fields or {}).items() if v is not None}
    values["updatedAt"] = str(queue.now_ms())
    moved = await scripts.DEPLOY_MOVE(
        redis,
        keys={"deploy": keys.deploy(did)},
        args={
            "allowed": ",".join(allowed),
            "fields": orjson.dumps(values),
            "attempt": b"" if attempt is None else orjson.dumps({"at": queue.now_ms(), **attempt}),
            "attempts_kept": ATTEMPTS_KEPT,
        },
    )
    return bool(moved)


async def expire_final(redis: Redis, did: str, retention_ms: int) -> None:
    """A deploy in a final state is kept for the retention (its audit), then expires."""
    if retention_ms > 0:
        await redis.pexpire(keys.deploy(did), retention_ms)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return str(value)
    return orjson.dumps(value).decode()


async def load(redis: Redis, did: str) -> dict[str, str] | None:
    raw = await redis.hgetall(keys.deploy(did))  # type: ignore[misc]
    if not raw:
        return None
    return {k.decode(): v.decode() for k, v in raw.items()}


async def get(redis: Redis, did: str) -> dict[str, Any] | None:
    record = await load(redis, did)
    return None if record is None else view(record)


def view(h: dict[str, str]) -> dict[str, Any]:
    """The public JSON shape of a deploy (GET /v1/deploys and the batch view)."""
    out: dict[str, Any] = {
        "id": h.get("id"),
        "rule": h.get("rule"),
        "trigger": {"type": h.get("trigger"), "subject": h.get("subject")},
        "provider": h.get("provider"),
        "target": h.get("target"),
        "status": h.get("status"),
        "dryRun": h.get("dryRun") == "1",
        "gate": h.get("gate"),
        "reason": h.get("reason"),
        "version": {
            "id": h.get("versionId"),
            "number": h.get("versionNumber"),
            "name": h.get("versionName"),
        },
        "error": _error(h),
        "createdAt": _iso(h.get("createdAt")),
        "updatedAt": _iso(h.get("updatedAt")),
        "finishedAt": _iso(h.get("finishedAt")),
    }
    for name in _JSON_FIELDS:
        out[name] = orjson.loads(h[name]) if name in h else None
    out["attempts"] = out["attempts"] or []
    read_back = out["readBack"] or {}
    out["verified"] = read_back.get("verified")
    out["superseded"] = read_back.get("superseded")
    out["rollbackTo"] = h.get("rollbackTo")
    out["evalId"] = h.get("evalId")
    out["platformEvent"] = (
        {
            "eventId": h["eventId"],
            "at": _iso(h.get("eventAt")),
            "versionId": h.get("eventVersionId"),
        }
        if "eventId" in h
        else None
    )
    return out


def _error(h: dict[str, str]) -> dict[str, Any] | None:
    if "error" not in h:
        return None
    status = h.get("errorStatus")
    return {"message": h["error"], "status": int(status) if status else None}


def _iso(ms: str | None) -> str | None:
    if not ms:
        return None
    from datetime import UTC, datetime

    return datetime.fromtimestamp(int(ms) / 1000, UTC).isoformat().replace("+00:00", "Z")


async def list_for_subject(redis: Redis, subject_id: str) -> list[dict[str, Any]]:
    """Every deploy a run or batch triggered (oldest first), for GET /v1/batches/{id}."""
    ids = await redis.zrange(keys.deploys_by_subject(subject_id), 0, 99)
    return await _views(redis, [i.decode() for i in ids])


async def _views(redis: Redis, ids: list[str]) -> list[dict[str, Any]]:
    async with redis.pipeline(transaction=False) as pipe:
        for did in ids:
            pipe.hgetall(keys.deploy(did))
        raws = await pipe.execute()
    return [view({k.decode(): v.decode() for k, v in raw.items()}) for raw in raws if raw]

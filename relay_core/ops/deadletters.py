"""Dead letters: work that exhausted its tries, kept with what is needed to run it again.

Generic on purpose: a dead letter names its `kind` and `ref`, the error, the tries, the first
and last failure, and a `Redrive` - the arq job to queue again (function, args, job id, score),
the keys to keep while it waits (persisted again on redrive, deleted on purge) and fields to
reset on a record. A new kind (an outbound notification delivery, say) only describes itself
that way; storing, listing, redriving and purging do not change.

A dead letter is kept for the retention. Redrive is one Lua step: the record goes, the job is
queued with a fresh try count, so a redriven item runs once more, and its job (idempotent, like
every job) applies it once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from redis.asyncio import Redis

from relay_core import keys
from relay_core.errors import InvalidRequest, NotFound
from relay_core.ops import retention
from relay_core.params import parse_offset
from relay_core.redis import queue, scripts

EVENT_GROUP, CHUNK, BATCH_COMPLETION, DEPLOY = "event_group", "chunk", "batch_completion", "deploy"
NOTIFICATION = "notification"  # an outbound delivery whose retry schedule ran out
KINDS = (EVENT_GROUP, CHUNK, BATCH_COMPLETION, DEPLOY, NOTIFICATION)
MAX_LIMIT = 200


@dataclass(slots=True, frozen=True)
class Redrive:
    """What running the item again takes."""

    function: str
    args: list[Any]
    job_id: str
    events_lane: bool = False  # queued with the event groups' lead (queue.events_score)
    keep: list[str] = field(default_factory=list)  # expire with the dead letter; kept on redrive
    drop: list[str] = field(default_factory=list)  # deleted when the dead letter is purged
    reset_key: str = ""  # a record whose fields are set (and dropped) on redrive
    reset: dict[str, str] = field(default_factory=dict)
    reset_drop: list[str] = field(default_factory=list)
    needs: str = ""  # for a person: what must be fixed before a redrive can succeed


@dataclass(slots=True, frozen=True)
class Failure:
    error: str
    tries: int
    first_ms: int
    last_ms: int


def dead_letter_id(kind: str, ref: str) -> str:
    return f"{kind}:{ref}"


async def add(
    redis: Redis, kind: str, ref: str, failure: Failure, redrive: Redrive, retention_ms: int
) -> str:
    did = dead_letter_id(kind, ref)
    fields = {
        "id": did,
        "kind": kind,
        "ref": ref,
        "error": failure.error[:2000],
        "tries": str(failure.tries),
        "firstFailedAt": str(failure.first_ms),
        "lastFailedAt": str(failure.last_ms),
        "redrive": orjson.dumps(_redrive_fields(redrive)).decode(),
        "needs": redrive.needs,
    }
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(keys.dead_letter(did), mapping=fields)
        for index in (keys.DEAD_LETTERS, keys.dead_letters_by_kind(kind)):
            pipe.zadd(index, {did: failure.last_ms})
            retention.touch_index(pipe, index, failure.last_ms, retention_ms)
        if retention_ms > 0:
            for key in [keys.dead_letter(did), *redrive.keep]:
                pipe.pexpire(key, retention_ms)
        await pipe.execute()
    return did


def _redrive_fields(r: Redrive) -> dict[str, Any]:
    return {
        "function": r.function,
        "args": r.args,
        "jobId": r.job_id,
        "eventsLane": r.events_lane,
        "keep": r.keep,
        "drop": r.drop,
        "resetKey": r.reset_key,
        "reset": r.reset,
        "resetDrop": r.reset_drop,
    }


async def exists(redis: Redis, kind: str, ref: str) -> bool:
    return bool(await redis.exists(keys.dead_letter(dead_letter_id(kind, ref))))


async def load(redis: Redis, did: str) -> dict[str, str]:
    raw = await redis.hgetall(keys.dead_letter(did))  # type: ignore[misc]
    if not raw:
        raise NotFound(f"no dead letter {did!r}")
    return {k.decode(): v.decode() for k, v in raw.items()}


def view(h: dict[str, str]) -> dict[str, Any]:
    """The public JSON shape of a dead letter."""
    redrive = orjson.loads(h.get("redrive") or "{}")
    return {
        "id": h.get("id"),
        "kind": h.get("kind"),
        "ref": h.get("ref"),
        "error": h.get("error"),
        "tries": int(h.get("tries") or 0),
        "firstFailedAt": _iso(h.get("firstFailedAt")),
        "lastFailedAt": _iso(h.get("lastFailedAt")),
        "needs": h.get("needs") or None,
        "redrive": {"job": redrive.get("function"), "args": redrive.get("args", [])},
    }


def check_kind(kind: str | None) -> str | None:
    if kind is not None and kind not in KINDS:
        raise InvalidRequest(f"kind must be one of {', '.join(KINDS)}", code="invalid_kind")
    return kind


async def page(
    redis: Redis, kind: str | None, cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """Most recent failure first; the cursor is an offset into the index."""
    index = keys.dead_letters_by_kind(kind) if kind else keys.DEAD_LETTERS
    offset = parse_offset(cursor)
    ids = [i.decode() for i in await redis.zrevrange(index, offset, offset + limit)]
    async with redis.pipeline(transaction=False) as pipe:
        for did in ids[:limit]:
            pipe.hgetall(keys.dead_letter(did))
        raws = await pipe.execute()
    items = [view({k.decode(): v.decode() for k, v in raw.items()}) for raw in raws if raw]
    return items, (str(offset + limit) if len(ids) > limit else None)


async def counts(redis: Redis) -> dict[str, int]:
    async with redis.pipeline(transaction=False) as pipe:
        for kind in KINDS:
            pipe.zcard(keys.dead_letters_by_kind(kind))
        found = await pipe.execute()
    return dict(zip(KINDS, (int(n) for n in found), strict=True))


async def redrive(redis: Redis, did: str) -> bool:
    """Queue the item's job again (fresh tries); False when there is no such dead letter."""
    try:
        h = await load(redis, did)
    except NotFound:
        return False
    r = orjson.loads(h["redrive"])
    now = queue.now_ms()
    job_id = str(r["jobId"])
    redriven = await scripts.DEAD_LETTER_REDRIVE(
        redis,
        keys={
            "dead_letter": keys.dead_letter(did),
            "index": keys.DEAD_LETTERS,
            "kind_index": keys.dead_letters_by_kind(h["kind"]),
            "job": queue.JOB_KEY_PREFIX + job_id,
            "retries": queue.RETRY_KEY_PREFIX + job_id,
            "result": queue.RESULT_KEY_PREFIX + job_id,
            "queue": queue.QUEUE,
            "reset_record": r.get("resetKey") or "",
            "keep": list(r.get("keep", [])),
        },
        args={
            "id": did,
            "job": queue.job_bytes(str(r["function"]), list(r["args"]), now),
            "job_id": job_id,
            "score": queue.events_score(now) if r.get("eventsLane") else now,
            "reset": orjson.dumps(r.get("reset") or {}),
            "reset_drop": orjson.dumps(r.get("resetDrop") or []),
        },
    )
    return bool(redriven)


async def redrive_kind(redis: Redis, kind: str) -> int:
    ids = [i.decode() for i in await redis.zrange(keys.dead_letters_by_kind(kind), 0, -1)]
    return sum([await redrive(redis, did) for did in ids])


async def purge(redis: Redis, did: str) -> bool:
    """Forget the dead letter and drop what it held (an event group's bodies)."""
    try:
        h = await load(redis, did)
    except NotFound:
        return False
    r = orjson.loads(h["redrive"])
    async with redis.pipeline(transaction=True) as pipe:
        pipe.delete(keys.dead_letter(did), *r.get("drop", []))
        pipe.zrem(keys.DEAD_LETTERS, did)
        pipe.zrem(keys.dead_letters_by_kind(h["kind"]), did)
        await pipe.execute()
    return True


def _iso(ms: str | None) -> str | None:
    if not ms:
        return None
    from datetime import UTC, datetime

    return datetime.fromtimestamp(int(ms) / 1000, UTC).isoformat().replace("+00:00", "Z")

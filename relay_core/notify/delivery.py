"""A delivery's life: load it, hold a slot of its destination, record each attempt's outcome.

States: pending -> delivered | dead (schedule exhausted, or an address the guard refuses) |
disabled (the destination answered 410) | dropped (the destination no longer exists).
Each outcome is recorded with the next attempt's job in one step
(relay_core/notify/lua/result.lua); a dead one then goes to the dead letters (relay_core.notify.dead).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import orjson
from redis.asyncio import Redis

from relay_core import keys
from relay_core.redis import queue, scripts

ATTEMPTS_KEPT = 100
FINISHED_TTL_MS = 3 * 86_400_000
ATTEMPTS_TTL_MS = 30 * 86_400_000


@dataclass(frozen=True, slots=True)
class Delivery:
    id: str
    msg: str
    dest: str
    type: str
    body: bytes
    state: str
    round: int
    attempt: int


@dataclass(frozen=True, slots=True)
class Outcome:
    state: str  # delivered | pending (retry) | dead | disabled | dropped
    status: int | None = None
    error: str | None = None
    ms: float = 0.0


async def load(redis: Redis, delivery_id: str) -> Delivery | None:
    raw = await redis.hgetall(keys.notify_delivery(delivery_id))  # type: ignore[misc]
    if not raw or b"body" not in raw:
        return None
    h = {k.decode(): v for k, v in raw.items()}
    return Delivery(
        delivery_id,
        h["msg"].decode(),
        h["dest"].decode(),
        h["type"].decode(),
        h["body"],
        h["state"].decode(),
        int(h.get("r", b"0")),
        int(h.get("n", b"0")),
    )


async def take_slot(redis: Redis, dest: str, limit: int, lease_ms: int) -> str | None:
    """A slot of the destination's bounded in-flight, or None when all are taken."""
    token, now = secrets.token_hex(8), queue.now_ms()
    got = await scripts.NOTIFY_TAKE_SLOT(
        redis,
        keys={"flight": keys.notify_flight(dest)},
        args={"token": token, "now": now, "lease_until": now + lease_ms, "limit": limit},
    )
    return token if got else None


async def release_slot(redis: Redis, dest: str, token: str) -> None:
    await redis.zrem(keys.notify_flight(dest), token)


def next_state(outcome_ok: bool, attempt: int, schedule: tuple[float, ...]) -> str:
    if outcome_ok:
        return "delivered"
    return "pending" if attempt + 1 < len(schedule) else "dead"


async def record(redis: Redis, d: Delivery, outcome: Outcome, schedule: tuple[float, ...]) -> bool:
    """Record attempt `d.attempt`'s outcome and, for a retry, queue the next attempt's job."""
    now = queue.now_ms()
    attempt = {
        "deliveryId": d.id,
        "messageId": d.msg,
        "type": d.type,
        "attempt": d.attempt + 1,
        "round": d.round,
        "at": now,
        "status": outcome.status,
        "error": outcome.error,
        "ms": round(outcome.ms, 1),
        "outcome": outcome.state,
    }
    fields = {"lastStatus": outcome.status or "", "lastError": outcome.error or ""}
    job_id, job, score = "", b"", now
    if outcome.state == "pending":
        score = now + int(schedule[d.attempt + 1] * 1000)
        job_id = queue.notify_job_id(d.id, d.round, d.attempt + 1)
        job = queue.job_bytes(queue.NOTIFY_DELIVER, [d.id, d.round, d.attempt + 1], now)
    recorded = await scripts.NOTIFY_RESULT(
        redis,
        keys={
            "delivery": keys.notify_delivery(d.id),
            "attempts": keys.notify_attempts(d.dest),
            "job": queue.JOB_KEY_PREFIX + (job_id or "-"),
            "queue": queue.QUEUE,
        },
        args={
            "round": d.round,
            "attempt": d.attempt,
            "state": outcome.state,
            "now": now,
            "fields": orjson.dumps(fields),
            "record": orjson.dumps(attempt),
            "attempts_kept": ATTEMPTS_KEPT,
            "job": job,
            "job_id": job_id,
            "score": score,
            "finished_ttl_ms": FINISHED_TTL_MS,
            "attempts_ttl_ms": ATTEMPTS_TTL_MS,
        },
    )
    return bool(recorded)


async def attempts(redis: Redis, dest: str, limit: int = 100) -> list[dict[str, Any]]:
    raws = await redis.lrange(keys.notify_attempts(dest), 0, limit - 1)  # type: ignore[misc]
    return [orjson.loads(r) for r in raws]

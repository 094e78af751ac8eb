"""Dead deliveries, kept in the relay's one dead-letter store (relay_core.ops.deadletters).

A delivery whose schedule ran out (or whose address the guard refuses) is a dead letter of kind
`notification`, its ref the delivery id; the delivery hash is kept as long as the dead letter
and dropped with it. A redrive queues the notify_redrive job, which starts the delivery's next
round from the first attempt, with the same webhook-id.

`/v1/notifications/dead` and its redrive are deprecated aliases answering from that store.
Releases before it kept a notification-only list (`keys.NOTIFY_DEAD`): a worker folds it into
the store once, at start (migrate_legacy).
"""

from __future__ import annotations

from typing import Any

import orjson
from redis.asyncio import Redis

from relay_core import keys
from relay_core.notify.delivery import Delivery, load
from relay_core.ops import deadletters
from relay_core.redis import queue, scripts

KIND = deadletters.NOTIFICATION


def _redrive(d: Delivery) -> deadletters.Redrive:
    hash_key = keys.notify_delivery(d.id)
    return deadletters.Redrive(
        function=queue.NOTIFY_REDRIVE,
        args=[d.id],
        job_id=f"notify-redrive:{d.id}:{d.round}",
        keep=[hash_key],
        drop=[hash_key],
        needs=f"the destination {d.dest} must answer 2xx",
    )


async def add(
    redis: Redis, d: Delivery, error: str, retention_ms: int, at_ms: int | None = None
) -> str:
    """Dead-letter a delivery recorded dead. Idempotent: a job run again writes the same item."""
    now = at_ms or queue.now_ms()
    # The delivery keeps no first failure time: the last is the closest it records.
    failure = deadletters.Failure(error=error, tries=d.attempt + 1, first_ms=now, last_ms=now)
    return await deadletters.add(redis, KIND, d.id, failure, _redrive(d), retention_ms)


async def last_error(redis: Redis, delivery_id: str) -> tuple[int | None, str]:
    """The last attempt's status and error, as the delivery hash recorded them."""
    fields = ["lastStatus", "lastError"]
    status, error = await redis.hmget(keys.notify_delivery(delivery_id), fields)  # type: ignore[misc]
    code = int(status) if status else None
    return code, error.decode() if error else f"answered {code}"


async def redrive(redis: Redis, delivery_id: str) -> bool:
    """The notify_redrive job's step: a dead delivery's next round, its first attempt queued.
    False (and nothing changed) when the delivery is no longer dead."""
    d = await load(redis, delivery_id)
    if d is None or d.state != "dead":
        return False
    now = queue.now_ms()
    job_id = queue.notify_job_id(d.id, d.round + 1, 0)
    job = queue.job_bytes(queue.NOTIFY_DELIVER, [d.id, d.round + 1, 0], now)
    redriven = await scripts.NOTIFY_REDRIVE(
        redis,
        keys={
            "delivery": keys.notify_delivery(d.id),
            "job": queue.JOB_KEY_PREFIX + job_id,
            "queue": queue.QUEUE,
        },
        args={"now": now, "job": job, "job_id": job_id},
    )
    return bool(redriven)


async def listing(redis: Redis, limit: int = 100) -> list[dict[str, Any]]:
    """The deprecated /v1/notifications/dead shape, newest failure first, from the one store."""
    items, _ = await deadletters.page(redis, KIND, None, limit)
    out = []
    for item in items:
        d = await load(redis, str(item["ref"]))
        if d is None:
            continue
        status, error = await last_error(redis, d.id)
        out.append(
            {
                "deliveryId": d.id,
                "messageId": d.msg,
                "destination": d.dest,
                "type": d.type,
                "attempts": d.attempt + 1,
                "lastStatus": status,
                "lastError": error,
                "payload": orjson.loads(d.body),
            }
        )
    return out


async def redrive_ids(redis: Redis, delivery_ids: list[str] | None) -> int:
    """The deprecated redrive route: through the one store, every notification when no ids."""
    if delivery_ids is None:
        return await deadletters.redrive_kind(redis, KIND)
    ids = [deadletters.dead_letter_id(KIND, i) for i in dict.fromkeys(delivery_ids)]
    return sum([await deadletters.redrive(redis, did) for did in ids])


async def migrate_legacy(redis: Redis, retention_ms: int) -> int:
    """Fold the notification-only dead list of earlier releases into the one store, once.
    Idempotent; what it moved (deliveries not already dead-lettered there)."""
    moved = 0
    for raw_id, score in await redis.zrange(keys.NOTIFY_DEAD, 0, -1, withscores=True):
        d = await load(redis, raw_id.decode())
        if d is None or d.state != "dead" or await deadletters.exists(redis, KIND, d.id):
            continue
        _, error = await last_error(redis, d.id)
        await add(redis, d, error, retention_ms, at_ms=int(score))
        moved += 1
    await redis.delete(keys.NOTIFY_DEAD)
    return moved

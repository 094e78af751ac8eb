"""Destinations: standing subscriptions and batch callbacks, as the delivery job reads them.

A subscription is `relay:notify:sub:{id}`; the enabled ones are also in `relay:notify:routes`
(id -> events), the one read the emitter makes per event group. A batch's callback lives in
the batch's own hash (cbUrl, cbSecret, cbEvents, cbOff), written in the MULTI that creates it.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

from relay_core import keys
from relay_core.errors import NotFound
from relay_core.notify import events as ev
from relay_core.notify.signing import new_secret
from relay_core.redis import queue

SUB_PREFIX = "sub_"
BATCH_PREFIX = "rbatch_"


@dataclass(frozen=True, slots=True)
class Destination:
    id: str
    url: str
    secret: str
    events: tuple[str, ...]
    enabled: bool


def new_subscription_id() -> str:
    return SUB_PREFIX + secrets.token_hex(10)


def callback_fields(url: str, events: Sequence[str] | None) -> dict[str, str]:
    """The batch hash fields of a new batch's callback (its secret included)."""
    chosen = tuple(events) if events else ev.DEFAULT_BATCH_EVENTS
    return {"cbUrl": url, "cbSecret": new_secret(), "cbEvents": ",".join(chosen)}


async def create_subscription(
    redis: Redis, url: str, events: list[str], owner: str
) -> dict[str, Any]:
    sub_id, secret, now = new_subscription_id(), new_secret(), queue.now_ms()
    chosen = ",".join(dict.fromkeys(events))
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(
            keys.notify_sub(sub_id),
            mapping={
                "url": url,
                "secret": secret,
                "events": chosen,
                "enabled": "1",
                "createdAt": now,
                "owner": owner,
            },
        )
        pipe.zadd(keys.NOTIFY_SUBS, {sub_id: now})
        pipe.hset(keys.NOTIFY_ROUTES, sub_id, chosen)
        await pipe.execute()
    return {
        **_view(sub_id, {"url": url, "events": chosen, "enabled": "1", "createdAt": str(now)}),
        "secret": secret,
    }


async def list_subscriptions(redis: Redis) -> list[dict[str, Any]]:
    ids = [i.decode() for i in await redis.zrange(keys.NOTIFY_SUBS, 0, -1)]
    async with redis.pipeline(transaction=False) as pipe:
        for sub_id in ids:
            pipe.hgetall(keys.notify_sub(sub_id))
        raws = await pipe.execute()
    return [_view(i, _text(raw)) for i, raw in zip(ids, raws, strict=True) if raw]


async def get_subscription(redis: Redis, sub_id: str) -> dict[str, Any]:
    raw = await redis.hgetall(keys.notify_sub(sub_id))  # type: ignore[misc]
    if not raw:
        raise NotFound(f"no subscription {sub_id!r}")
    return _view(sub_id, _text(raw))


async def delete_subscription(redis: Redis, sub_id: str) -> None:
    async with redis.pipeline(transaction=True) as pipe:
        pipe.delete(keys.notify_sub(sub_id))
        pipe.zrem(keys.NOTIFY_SUBS, sub_id)
        pipe.hdel(keys.NOTIFY_ROUTES, sub_id)
        pipe.delete(keys.notify_attempts(sub_id))
        deleted, *_ = await pipe.execute()
    if not deleted:
        raise NotFound(f"no subscription {sub_id!r}")


async def load_destination(redis: Redis, dest: str) -> Destination | None:
    if dest.startswith(BATCH_PREFIX):
        fields = ["cbUrl", "cbSecret", "cbEvents", "cbOff"]
        url, secret, events, off = await redis.hmget(keys.batch(dest), fields)  # type: ignore[misc]
        if url is None or secret is None:
            return None
        names = ev.parse_events(events.decode() if events else None, ev.DEFAULT_BATCH_EVENTS)
        return Destination(dest, url.decode(), secret.decode(), names, off is None)
    raw = _text(await redis.hgetall(keys.notify_sub(dest)))  # type: ignore[misc]
    if "url" not in raw:
        return None
    names = ev.parse_events(raw.get("events"), ev.ALL_EVENTS)
    return Destination(dest, raw["url"], raw["secret"], names, raw.get("enabled") == "1")


async def disable(redis: Redis, dest: str, reason: str) -> None:
    """A 410 (gone): nothing more is sent to this destination."""
    if dest.startswith(BATCH_PREFIX):
        await redis.hset(keys.batch(dest), "cbOff", reason)  # type: ignore[misc]
        return
    async with redis.pipeline(transaction=True) as pipe:
        pipe.exists(keys.notify_sub(dest))
        pipe.hdel(keys.NOTIFY_ROUTES, dest)
        exists, _ = await pipe.execute()
    if exists:
        await redis.hset(  # type: ignore[misc]
            keys.notify_sub(dest), mapping={"enabled": "0", "disabledReason": reason}
        )


def _text(raw: dict[bytes, bytes]) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in raw.items()}


def _view(sub_id: str, h: dict[str, str]) -> dict[str, Any]:
    created = int(h.get("createdAt", "0"))
    stamp = datetime.fromtimestamp(created / 1000, UTC).isoformat().replace("+00:00", "Z")
    return {
        "id": sub_id,
        "url": h.get("url"),
        "events": ev.parse_events(h.get("events"), ev.ALL_EVENTS),
        "enabled": h.get("enabled") == "1",
        "disabledReason": h.get("disabledReason"),
        "createdAt": stamp,
    }

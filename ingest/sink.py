"""Coalesce concurrent webhook enqueues into one Redis round trip.

Each request still waits for its own event to be durable: a request's future resolves only
after the Lua script that stored its event (dedupe claim + body + arq job, atomically) has
returned. While one group is in flight the next one fills up, so under load one round trip
carries hundreds of events, and a lone request pays no added latency.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from redis.asyncio import Redis
from redis.exceptions import RedisError

from relay_core import keys, lua, queue
from relay_core.errors import Unavailable

log = logging.getLogger(__name__)
_Item = tuple[str, bytes, "asyncio.Future[bool]"]


class EventSink:
    def __init__(self, redis: Redis, dedupe_ttl_seconds: int, max_group: int = 500) -> None:
        self._redis = redis
        self._ttl = dedupe_ttl_seconds
        self._max_group = max_group
        self._script = redis.register_script(lua.ENQUEUE_EVENTS)
        self._pending: list[_Item] = []
        self._drainer: asyncio.Task[None] | None = None

    async def submit(self, event_id: str, body: bytes) -> bool:
        """Store the event durably; True when new, False when a duplicate of an accepted one."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((event_id, body, future))
        if self._drainer is None:
            self._drainer = asyncio.create_task(self._drain())
        return await future

    async def close(self) -> None:
        if self._drainer is not None:
            await asyncio.shield(self._drainer)

    async def _drain(self) -> None:
        try:
            while self._pending:
                group = self._pending[: self._max_group]
                del self._pending[: self._max_group]
                await self._flush(group)
        finally:
            self._drainer = None

    async def _flush(self, group: list[_Item]) -> None:
        try:
            flags = await self._store(group)
        except RedisError as exc:
            log.warning("redis unavailable, %d events refused: %s", len(group), exc)
            for _, _, future in group:
                if not future.done():
                    future.set_exception(Unavailable("event store unavailable, retry later"))
            return
        for (_, _, future), flag in zip(group, flags, strict=True):
            if not future.done():
                future.set_result(bool(flag))

    async def _store(self, group: list[_Item]) -> list[int]:
        group_id = uuid.uuid4().hex
        job_id = queue.apply_events_job_id(group_id)
        now = queue.now_ms()
        script_keys = [keys.event_seen(event_id) for event_id, _, _ in group]
        script_keys += [keys.event_group(group_id), queue.JOB_KEY_PREFIX + job_id, queue.QUEUE]
        job = queue.job_bytes(queue.APPLY_EVENTS, [group_id], now)
        args: list[bytes | str | int] = [self._ttl, job, job_id, now]
        args += [body for _, body, _ in group]
        result: list[int] = await self._script(keys=script_keys, args=args)
        return result

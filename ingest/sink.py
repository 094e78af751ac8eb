"""Coalesce concurrent webhook enqueues into one Redis round trip.

Each request still waits for its own event to be durable: a request's future resolves only
after the Lua script that stored its event (dedupe claim + body + arq job, atomically) has
returned. A group leaves on the next loop tick, taking every request that arrived meanwhile;
up to MAX_IN_FLIGHT groups travel at once (each on its own connection), so a request never
waits for another group's round trip to end before its own starts, and under load one round
trip still carries many events. A lone request pays no added latency.
Two groups holding the same eventId are harmless: each script is atomic, so one claims it.

With WEBHOOK_ACK_DURABILITY aof or replica (relay_core.redis.durability), the group's write, a mark
and the wait (WAITAOF/WAIT) travel in one pipeline on one connection, and the group's requests
are answered only when the wait confirms; a wait that times out refuses the whole group (503).
Such a wait can last until Redis's next fsync, so many more groups may travel at once.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError

from relay_core import keys
from relay_core.errors import Unavailable
from relay_core.redis import queue, scripts
from relay_core.redis.durability import MARK_TTL_MS, MEMORY, AckPolicy, NotDurable

log = logging.getLogger(__name__)
_Item = tuple[str, bytes, "asyncio.Future[bool]"]


class EventSink:
    # Two groups in flight measured best in B1 on 2 cores (4, 8 and 16 were no faster): one
    # travels while the next fills, and fewer, larger groups cost Redis and Python less.
    MAX_IN_FLIGHT = 2
    # A durable group mostly waits for an fsync (up to Redis's next one, ~100 ms with
    # appendfsync everysec on Valkey); meanwhile the next groups must be able to leave.
    MAX_IN_FLIGHT_DURABLE = 32
    NOT_DURABLE_RETRY_AFTER_SECONDS = 1

    def __init__(
        self,
        redis: Redis,
        dedupe_ttl_seconds: int,
        max_group: int = 500,
        ack: AckPolicy = MEMORY,
    ) -> None:
        self._redis = redis
        self._ack = ack
        self._max_in_flight = self.MAX_IN_FLIGHT_DURABLE if ack.durable else self.MAX_IN_FLIGHT
        self._ttl = dedupe_ttl_seconds
        self._max_group = max_group
        self._pending: list[_Item] = []
        self._kick_scheduled = False
        self._in_flight: set[asyncio.Task[None]] = set()

    async def submit(self, event_id: str, body: bytes) -> bool:
        """Store the event durably; True when new, False when a duplicate of an accepted one."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        self._pending.append((event_id, body, future))
        self._schedule_kick()
        return await future

    async def close(self) -> None:
        while self._in_flight:
            await asyncio.wait(set(self._in_flight))

    def _schedule_kick(self) -> None:
        """Send what is pending on the next loop tick, if a group may leave now."""
        if (
            self._pending
            and not self._kick_scheduled
            and len(self._in_flight) < self._max_in_flight
        ):
            self._kick_scheduled = True
            asyncio.get_running_loop().call_soon(self._kick)

    def _kick(self) -> None:
        self._kick_scheduled = False
        while self._pending and len(self._in_flight) < self._max_in_flight:
            group = self._pending[: self._max_group]
            del self._pending[: self._max_group]
            task = asyncio.get_running_loop().create_task(self._flush(group))
            self._in_flight.add(task)
            task.add_done_callback(self._landed)

    def _landed(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._schedule_kick()

    async def _flush(self, group: list[_Item]) -> None:
        try:
            flags = await self._store(group)
        except NotDurable:
            log.warning("%s not confirmed in time, %d events refused", self._ack.mode, len(group))
            message = f"event not yet {self._ack.mode}-durable, retry later"
            self._refuse(group, message, self.NOT_DURABLE_RETRY_AFTER_SECONDS)
            return
        except Exception as exc:  # every waiting request must get an answer, never hang
            if isinstance(exc, RedisError):
                log.warning("redis unavailable, %d events refused: %s", len(group), exc)
            else:
                log.exception("storing %d events failed; refused", len(group))
            self._refuse(group, "event store unavailable, retry later")
            return
        for (_, _, future), flag in zip(group, flags, strict=True):
            if not future.done():
                future.set_result(bool(flag))

    @staticmethod
    def _refuse(group: list[_Item], message: str, retry_after: int | None = None) -> None:
        for _, _, future in group:
            if not future.done():
                refusal = Unavailable(message)
                if retry_after is not None:
                    refusal.retry_after_seconds = retry_after
                future.set_exception(refusal)

    async def _store(self, group: list[_Item]) -> list[int]:
        group_id = uuid.uuid4().hex
        job_id = queue.apply_events_job_id(group_id)
        now = queue.now_ms()
        script_keys: scripts.Names = {
            "group": keys.event_group(group_id),
            "job": queue.JOB_KEY_PREFIX + job_id,
            "queue": queue.QUEUE,
            "seen": [keys.event_seen(event_id) for event_id, _, _ in group],
        }
        args: scripts.Names = {
            "seen_ttl_s": self._ttl,
            "job": queue.job_bytes(queue.APPLY_EVENTS, [group_id], now),
            "job_id": job_id,
            "score": queue.events_score(now),
            "bodies": [body for _, body, _ in group],
        }
        if not self._ack.durable:
            flags: list[int] = await scripts.ENQUEUE_EVENTS(
                self._redis, keys=script_keys, args=args
            )
            return flags

        # The write, the mark and the wait on one connection, in one pipeline: WAITAOF/WAIT
        # covers that connection's writes. Run again whole after a NOSCRIPT (the script then
        # stored nothing; the mark and the wait are harmless twice).
        async def fill(pipe: Pipeline) -> None:
            await scripts.ENQUEUE_EVENTS.queue(pipe, keys=script_keys, args=args)
            pipe.set(keys.DURABILITY_MARK, b"1", px=MARK_TTL_MS)
            pipe.execute_command(*self._ack.command)

        flags, _, reply = await scripts.pipelined(self._redis, fill)
        if not self._ack.satisfied(reply):
            raise NotDurable
        return list(flags)

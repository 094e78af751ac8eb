"""Give an event group back its apply job when the job is gone.

The sink writes a group's bodies and its job in one Lua step, and the job deletes the group
once every event in it is applied. A group without its job key has therefore lost the job:
arq gave up after max_tries, or the key expired (after 24 h) while no worker ran. Its events
were acknowledged to the platform, so they must still be applied; doing it again is harmless.
A dead-lettered group is not one of those: it waits for a redrive (relay_core.ops.deadletters).
"""

from __future__ import annotations

import logging

from redis.asyncio import Redis

from relay_core import keys
from relay_core.ops import deadletters
from relay_core.redis import queue, scripts

log = logging.getLogger(__name__)

GROUPS_PER_PASS = 1000


async def requeue_orphan_groups(redis: Redis, limit: int = GROUPS_PER_PASS) -> int:
    seen = requeued = 0
    async for raw in redis.scan_iter(match=keys.EVENT_GROUP + "*", count=1000):
        group_id = raw.decode()[len(keys.EVENT_GROUP) :]
        job_id = queue.apply_events_job_id(group_id)
        now = queue.now_ms()
        dead = deadletters.dead_letter_id(deadletters.EVENT_GROUP, group_id)
        if await scripts.REQUEUE_GROUP(
            redis,
            keys={
                "group": keys.event_group(group_id),
                "job": queue.JOB_KEY_PREFIX + job_id,
                "retries": queue.RETRY_KEY_PREFIX + job_id,
                "queue": queue.QUEUE,
                "dead_letter": keys.dead_letter(dead),
            },
            args={
                "job": queue.job_bytes(queue.APPLY_EVENTS, [group_id], now),
                "job_id": job_id,
                "score": queue.events_score(now),
            },
        ):
            requeued += 1
            log.warning("event group %s had lost its apply job; queued it again", group_id)
        seen += 1
        if seen >= limit:
            break
    return requeued

"""Liveness and readiness for the PaaS router."""

from __future__ import annotations

from aiohttp import web
from redis.exceptions import RedisError

from ingest.appkeys import GUARD, REDIS, SETTINGS
from ingest.responses import json_response
from relay_core.errors import Unavailable


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready while Redis answers, takes writes and is below 95% of its maxmemory (and, with
    WEBHOOK_ACK_DURABILITY=replica, has a replica to acknowledge to)."""
    redis = request.app[REDIS]
    try:
        state = await request.app[GUARD].sample(redis)
        if request.app[SETTINGS].webhooks.ack_durability == "replica":
            replicas = int((await redis.info("replication")).get("connected_slaves", 0))
            if replicas < 1:
                raise Unavailable(
                    "no replica is connected: WEBHOOK_ACK_DURABILITY=replica cannot acknowledge",
                    code="no_replica",
                )
    except RedisError:
        raise Unavailable("redis is not reachable") from None
    if state.full:
        detail = "refuses writes" if not state.writable else f"is at {state.ratio:.0%} of maxmemory"
        raise Unavailable(
            f"redis {detail}: webhooks are refused until memory is freed", code="redis_full"
        )
    return json_response({"status": "ready"})

"""Liveness and readiness for the PaaS router."""

from __future__ import annotations

from aiohttp import web
from redis.exceptions import RedisError

from ingest.appkeys import REDIS
from ingest.responses import json_response
from relay_core.errors import Unavailable


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    try:
        await request.app[REDIS].ping()
    except RedisError:
        raise Unavailable("redis is not reachable") from None
    return json_response({"status": "ready"})

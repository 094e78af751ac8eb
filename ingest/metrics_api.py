"""GET /metrics: Prometheus text for the whole deployment (see relay_core.ops.metrics)."""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import AsyncIterator

from aiohttp import web
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from redis.exceptions import RedisError

from ingest import metrics_export
from ingest.appkeys import REDIS, SETTINGS
from relay_core.errors import Unauthorized, Unavailable
from relay_core.ops import metrics


async def metrics_view(request: web.Request) -> web.Response:
    _check_token(request)
    redis = request.app[REDIS]
    # This process's own counts go in first, so its answer includes everything it has seen.
    await metrics.TALLY.flush(redis)
    try:
        body = await metrics_export.render(redis)
    except RedisError:
        raise Unavailable("redis is not reachable") from None
    # The classic text format: what generate_latest writes and every scraper reads.
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4})


def _check_token(request: web.Request) -> None:
    token = request.app[SETTINGS].web.metrics_token
    if token is None or not token.get_secret_value():
        return  # open by default: scrapers usually sit on the private network
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    expected = token.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), expected):
        raise Unauthorized("/metrics needs Authorization: Bearer <METRICS_TOKEN>")


async def flusher_ctx(app: web.Application) -> AsyncIterator[None]:
    """Add this web process's webhook and API counts to Redis every few seconds."""
    task = asyncio.create_task(metrics.run_flusher(app[REDIS]))
    yield
    await metrics.stop_flusher(task, app[REDIS])

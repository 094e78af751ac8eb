"""create_app(): the aiohttp application; resources come from cleanup contexts, never imports."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from ingest.apikeys import parse_keys
from ingest.appkeys import API_KEYS, GUARD, PLATFORM_HTTP, REDIS, RULES, RUNS, SETTINGS, SINK
from ingest.metrics_api import flusher_ctx
from ingest.responses import error_middleware
from ingest.routes import add_routes
from ingest.sink import EventSink
from relay_core.deploys.rules import load_rules
from relay_core.redis.client import connect
from relay_core.redis.durability import check_server
from relay_core.redis.memguard import Guard
from relay_core.runs.store import RunStore
from relay_core.settings import Settings


def create_app(settings: Settings | None = None) -> web.Application:
    settings = settings or Settings()
    settings.webhooks.require_secrets()
    settings.web.require_api_keys()
    rules = load_rules(settings)  # an invalid rules file stops the web process too
    app = web.Application(
        middlewares=[error_middleware],
        client_max_size=max(
            settings.webhooks.max_body_bytes,
            settings.web.api_max_body_bytes,
            settings.batches.max_body_bytes,
            settings.batches.upload_max_bytes + 64 * 1024,  # the multipart framing around one file
        )
        + 1,
    )
    app[SETTINGS] = settings
    app[API_KEYS] = parse_keys(settings.web.api_keys)  # a bad entry stops the process here
    app[RULES] = rules
    app[GUARD] = Guard()
    app.cleanup_ctx.append(_redis_ctx)
    app.cleanup_ctx.append(flusher_ctx)  # after Redis: stopped (and flushed) before it closes
    app.cleanup_ctx.append(_platform_http_ctx)
    add_routes(app)
    return app


async def _redis_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    redis = connect(settings.redis.url)
    try:  # a server that cannot give the configured durability stops the process, one line
        ack = await check_server(
            redis, settings.webhooks.ack_durability, settings.webhooks.ack_timeout_ms
        )
    except BaseException:
        await redis.aclose()
        raise
    app[REDIS] = redis
    app[SINK] = EventSink(redis, settings.webhooks.dedupe_ttl_seconds, ack=ack)
    app[RUNS] = RunStore(redis, settings.runs.history_limit, settings.retention.ms)
    yield
    await app[SINK].close()
    await redis.aclose()


async def _platform_http_ctx(app: web.Application) -> AsyncIterator[None]:
    app[PLATFORM_HTTP] = session = aiohttp.ClientSession()
    yield
    await session.close()

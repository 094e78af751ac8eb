"""Typed application keys: every resource the web process holds, filled by cleanup contexts."""

from __future__ import annotations

import aiohttp
from aiohttp import web
from redis.asyncio import Redis

from ingest.apikeys import ApiKey
from ingest.sink import EventSink
from relay_core.deploys.rules import RuleSet
from relay_core.redis.memguard import Guard
from relay_core.runs.store import RunStore
from relay_core.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
REDIS = web.AppKey("redis", Redis)
SINK = web.AppKey("sink", EventSink)
RUNS = web.AppKey("runs", RunStore)
RULES = web.AppKey("rules", RuleSet)
API_KEYS = web.AppKey("api_keys", tuple[ApiKey, ...])


GUARD = web.AppKey("memory_guard", Guard)
# One session for the platform calls the API makes (uploads, results, versions).
PLATFORM_HTTP = web.AppKey("platform_http", aiohttp.ClientSession)

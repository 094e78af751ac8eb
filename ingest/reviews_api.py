"""GET /v1/reviews: runs waiting for a human review, oldest first (the dashboard's list)."""

from __future__ import annotations

from aiohttp import web

from ingest.appkeys import REDIS
from ingest.auth import require_api_key
from ingest.responses import json_response
from relay_core.params import parse_limit
from relay_core.runs import reviews

DEFAULT_LIMIT = 50


async def list_reviews(request: web.Request) -> web.Response:
    require_api_key(request, "read")
    limit = parse_limit(request.query.get("limit"), DEFAULT_LIMIT, reviews.MAX_LIMIT)
    return json_response({"runs": await reviews.waiting(request.app[REDIS], limit)})

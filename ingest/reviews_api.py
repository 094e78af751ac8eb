"""GET /v1/reviews: runs waiting for a human review, oldest first (the dashboard's list)."""

from __future__ import annotations

from aiohttp import web

from ingest.appkeys import REDIS
from ingest.auth import require_api_key
from ingest.responses import json_response
from relay_core import reviews
from relay_core.errors import InvalidRequest

DEFAULT_LIMIT = 50


async def list_reviews(request: web.Request) -> web.Response:
    require_api_key(request)
    raw = request.query.get("limit")
    limit = DEFAULT_LIMIT
    if raw is not None:
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= reviews.MAX_LIMIT:
            raise InvalidRequest(
                f"limit must be an integer from 1 to {reviews.MAX_LIMIT}", code="invalid_limit"
            )
        limit = int(raw)
    return json_response({"runs": await reviews.waiting(request.app[REDIS], limit)})

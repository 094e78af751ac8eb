"""The schedule's routes: the queue in send order, and re-prioritising a running batch."""

from __future__ import annotations

from collections.abc import Callable

import orjson
from aiohttp import web
from pydantic import ValidationError

from ingest.appkeys import REDIS, SETTINGS
from ingest.auth import require_api_key
from ingest.responses import json_response
from relay_core.batches import models as m
from relay_core.batches import store as batches
from relay_core.batches import view as batch_view
from relay_core.batches.models import describe
from relay_core.errors import InvalidRequest, NotFound
from relay_core.redis import queue
from relay_core.scheduler import share
from relay_core.scheduler import state as scheduler
from relay_core.scheduler.ratelimit import Limits


async def get_queue(request: web.Request) -> web.Response:
    """The batches with files left to send, in send order, with share and ETA."""
    require_api_key(request, "read")
    settings = request.app[SETTINGS]
    now = queue.now_ms()
    entries = await share.snapshot(request.app[REDIS], Limits.of(settings))
    items = [
        {
            "batchId": e.batch_id,
            "producer": e.producer,
            "priority": e.priority,
            "weight": e.weight,
            "share": round(e.share, 4),
            "filesLeft": e.files_left,
            "eta": share.iso_in(e.eta_seconds, now),
        }
        for e in entries
    ]
    return json_response(
        {"filesPerMinute": settings.platforms.extend.files_per_minute, "batches": items}
    )


async def patch_batch(request: web.Request) -> web.Response:
    """Re-prioritise (or re-weight) a batch's unsent chunks; sent runs are never touched."""
    require_api_key(request, "submit")
    batch_id = request.match_info["batch_id"]
    try:
        change = m.BatchPatch.model_validate(orjson.loads(await request.read()))
    except orjson.JSONDecodeError:
        raise InvalidRequest("body must be a JSON object") from None
    except ValidationError as exc:
        raise InvalidRequest(describe(exc)) from None
    redis = request.app[REDIS]
    if await scheduler.change(redis, batch_id, change.priority, change.weight) == -1:
        raise NotFound(f"no batch {batch_id!r}")
    limits = Limits.of(request.app[SETTINGS])
    now = queue.now_ms()
    found = await batches.load(redis, batch_id)
    part, eta = await share.of_batch(redis, limits, batch_id, now)
    await scheduler.kick(redis)
    return json_response(batch_view.view(batch_id, found, part, eta))


def add_scheduler_routes(add: Callable[..., None]) -> None:
    add("GET /v1/queue", get_queue, "queue", m.QueueView)
    add(
        "PATCH /v1/batches/{batch_id}",
        patch_batch,
        "batch-patch",
        m.BatchView,
        body=m.BatchPatch,
        errors=(400, 404),
    )

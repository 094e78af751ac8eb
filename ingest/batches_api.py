"""The batches API: create a batch (202), read it, list its runs, cancel it.

Creating only stores the batch and queues its chunks (relay_core.batches.producer); the worker sends
them. Every read is O(1) in the batch size except the runs listing, which pages by file index.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from aiohttp import web

from ingest.appkeys import REDIS, SETTINGS
from ingest.auth import require_api_key
from ingest.bodies import read_body
from ingest.intake import gc_paused, parse_batch_body, release
from ingest.responses import json_response
from relay_core.batches import models as m
from relay_core.batches import runs as batch_runs
from relay_core.batches import store as batches
from relay_core.batches import view as batch_view
from relay_core.batches.producer import Producer
from relay_core.deploys import store as deploys
from relay_core.errors import InvalidRequest
from relay_core.params import is_digits, parse_limit
from relay_core.redis import queue
from relay_core.scheduler import share
from relay_core.scheduler.ratelimit import Limits

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


async def create_batch(request: web.Request) -> web.Response:
    """Submit a batch of files to one workflow."""
    key = require_api_key(request, "submit")
    settings = request.app[SETTINGS]
    # Big bodies are parsed and validated in slices (ingest.intake): the loop keeps
    # answering webhooks while a 100,000-file batch comes in.
    raw = await read_body(request, settings.batches.max_body_bytes)
    with gc_paused(len(raw)):
        body = await parse_batch_body(raw, settings.batches.max_files)
        del raw
        producer = Producer(request.app[REDIS], settings)
        scope = hashlib.sha256(key.secret).hexdigest()[:16]
        accepted, created = await producer.submit_once(
            body,
            idempotency_key=request.headers.get("Idempotency-Key"),
            scope=scope,
            producer=key.name,
        )
        await release(body.files)
    return json_response(accepted.model_dump(), status=202 if created else 200)


async def get_batch(request: web.Request) -> web.Response:
    """A batch's state and counters, with its share of the limit and ETA."""
    require_api_key(request, "read")
    batch_id = request.match_info["batch_id"]
    redis = request.app[REDIS]
    found = await batches.load(redis, batch_id)
    limits = Limits.of(request.app[SETTINGS])
    part, eta = await share.of_batch(redis, limits, batch_id, queue.now_ms())
    return json_response(
        {
            **batch_view.view(batch_id, found, part, eta),
            "deploys": await deploys.list_for_subject(redis, batch_id),
        }
    )


async def list_batches(request: web.Request) -> web.Response:
    """The most recent batches, newest first (offset cursor)."""
    require_api_key(request, "read")
    cursor = request.query.get("cursor", "0")
    if not is_digits(cursor, max_len=12):  # an offset Redis can take
        raise InvalidRequest(
            "cursor must be the nextCursor of a previous page", code="invalid_cursor"
        )
    views, next_offset = await batch_view.recent(
        request.app[REDIS], parse_limit(request.query.get("limit"), 20, MAX_LIMIT), int(cursor)
    )
    return json_response(
        {"batches": views, "nextCursor": None if next_offset is None else str(next_offset)}
    )


async def list_batch_runs(request: web.Request) -> web.Response:
    """A batch's files in order, each with its run or why it has none."""
    require_api_key(request, "read")
    batch_id = request.match_info["batch_id"]
    redis = request.app[REDIS]
    found = await batches.load(redis, batch_id)
    query = request.query
    page = await batch_runs.runs_page(
        redis,
        batch_id,
        int(found["files"]),
        status=batch_runs.parse_status(query.get("status")),
        cursor=batch_runs.parse_cursor(query.get("cursor")),
        limit=parse_limit(query.get("limit"), DEFAULT_LIMIT, MAX_LIMIT),
        cut_at=int(found["cutAt"]) if "cutAt" in found else None,
    )
    return json_response({"runs": page.items, "nextCursor": page.next_cursor})


async def cancel_batch(request: web.Request) -> web.Response:
    """Cancel a batch: unsent chunks stop, its PENDING/PROCESSING runs are cancelled."""
    require_api_key(request, "submit")
    batch_id = request.match_info["batch_id"]
    redis = request.app[REDIS]
    outcome = await batches.cancel(redis, batch_id)
    view = batch_view.view(batch_id, await batches.load(redis, batch_id))
    return json_response(
        {"outcome": outcome, "batch": view}, status=202 if outcome == "cancelled" else 200
    )


def add_batch_routes(add: Callable[..., None]) -> None:
    """Registered by ingest.routes; kept here so the batch contract reads in one place."""
    add(
        "POST /v1/batches",
        create_batch,
        "batches",
        m.BatchAccepted,
        status=202,
        body=m.BatchRequest,
        errors=(400, 409, 413),
    )
    add(
        "GET /v1/batches",
        list_batches,
        "batch-list",
        m.BatchList,
        query=m.BatchListQuery,
        errors=(400,),
    )
    add("GET /v1/batches/{batch_id}", get_batch, "batch", m.BatchView, errors=(404,))
    add(
        "GET /v1/batches/{batch_id}/runs",
        list_batch_runs,
        "batch-runs",
        m.BatchRunsPage,
        query=m.BatchRunsQuery,
        errors=(400, 404),
    )
    add(
        "POST /v1/batches/{batch_id}/cancel",
        cancel_batch,
        "batch-cancel",
        m.BatchCancelAnswer,
        status=202,
        errors=(404,),
    )

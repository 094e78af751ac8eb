"""POST /webhooks/extend: verify, dedupe, enqueue, answer. Nothing slow happens in here."""

from __future__ import annotations

import logging
import time

from aiohttp import web

from ingest.appkeys import SETTINGS, SINK
from ingest.bodies import read_body
from ingest.responses import json_response
from relay_core.errors import ApiError, InvalidSignature
from relay_core.ops import metrics
from relay_core.runs import signing
from relay_core.runs.events import parse_envelope

log = logging.getLogger(__name__)


async def extend_webhook(request: web.Request) -> web.Response:
    try:
        return await _receive(request)
    except ApiError as exc:
        # In-process count only: the hot path never pays a Redis round trip for metrics.
        metrics.WEBHOOK_REQUESTS.inc(exc.code)
        raise


async def _receive(request: web.Request) -> web.Response:
    started = time.perf_counter()
    settings = request.app[SETTINGS]
    body = await read_body(request, settings.webhooks.max_body_bytes)
    try:
        signing.verify(
            request.headers,
            body,
            settings.webhooks.secret_bytes,
            max_age_seconds=settings.webhooks.max_age_seconds,
        )
    except signing.SignatureError as exc:
        raise InvalidSignature(str(exc)) from None
    envelope = parse_envelope(body)
    queued = await request.app[SINK].submit(envelope.event_id, body)
    status = "queued" if queued else "duplicate"
    metrics.WEBHOOK_REQUESTS.inc(status)
    log.debug(
        "webhook event=%s type=%s outcome=%s ms=%.2f",
        envelope.event_id,
        envelope.event_type,
        status,
        (time.perf_counter() - started) * 1000,
    )
    return json_response({"status": status, "eventId": envelope.event_id})

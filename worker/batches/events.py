"""What apply_events does for batch runs before applying: fetch signed-URL payloads, and give
2025-04-21 runs their file (their events carry the chunk, not the file index).

A signed payload that cannot be fetched yet makes the whole group retry before anything is
applied (every apply is idempotent anyway); one that can never be fetched is recorded in
`relay:signed-url-error:{eventId}` and skipped, never a crash.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from arq import Retry
from redis.asyncio.client import Pipeline

from relay_core import keys, retry
from relay_core.batches.metadata import META_BATCH, META_CHUNK, META_FILE
from relay_core.redis import scripts
from relay_core.runs.events import Envelope, RunUpdate, is_signed_data_url
from worker.context import WorkerContext
from worker.runs.signed_url import FetchError, fetch_payload

log = logging.getLogger(__name__)


async def fetch_signed_payloads(wc: WorkerContext, envelopes: list[Envelope]) -> list[Envelope]:
    if not any(is_signed_data_url(env.payload) for env in envelopes):
        return envelopes
    out: list[Envelope] = []
    for env in envelopes:
        if not is_signed_data_url(env.payload):
            out.append(env)
            continue
        try:
            payload = await fetch_payload(wc.extend_http, str(env.payload["data"]), wc.settings)
        except FetchError as exc:
            await _fetch_failed(wc, env, exc)
            continue
        out.append(Envelope(env.event_id, env.event_type, payload))
    return out


async def _fetch_failed(wc: WorkerContext, env: Envelope, exc: FetchError) -> None:
    # One expiring key per event (not one hash that grows forever): kept for the retention.
    keep = wc.settings.retention.ms
    await wc.redis.set(keys.signed_url_error(env.event_id), str(exc), px=keep or None)
    log.warning("signed payload event=%s try=%d: %s", env.event_id, wc.job_try, exc)
    if exc.retryable and wc.job_try < retry.SIGNED_URL.attempts:
        raise Retry(defer=retry.SIGNED_URL.backoff.delay(wc.job_try)) from None


def _needs_file(update: RunUpdate) -> bool:
    meta = update.metadata
    return isinstance(meta.get(META_BATCH), str) and META_FILE not in meta and META_CHUNK in meta


async def resolve_run_files(
    redis: Any, items: list[tuple[Envelope, RunUpdate]]
) -> list[tuple[Envelope, RunUpdate]]:
    """Add each 2025-04-21 run's file index; park events whose run is not mapped yet."""
    waiting = [(env, u) for env, u in items if _needs_file(u)]
    if not waiting:
        return items

    async def fill(pipe: Pipeline) -> None:
        for env, update in waiting:
            batch_id = str(update.metadata[META_BATCH])
            body = orjson.dumps(
                {"eventId": env.event_id, "eventType": env.event_type, "payload": env.payload}
            )
            await scripts.RESOLVE_OR_PARK.queue(
                pipe,
                keys={
                    "batch": keys.batch(batch_id),
                    "run_files": keys.batch_run_files(batch_id),
                    "parked": keys.batch_parked(batch_id),
                },
                args={"run_id": update.run_id, "body": body},
            )

    # Run again whole after a NOSCRIPT: a resolve that answered it ran nothing, and should one
    # have parked a body before Redis lost its scripts, applying that event twice is harmless.
    resolved = await scripts.pipelined(redis, fill)
    found = dict(zip((id(u) for _, u in waiting), resolved, strict=True))
    kept = []
    for env, update in items:
        index = found.get(id(update))
        if index is not None and int(index) >= 0:
            update.metadata = {**update.metadata, META_FILE: int(index)}
        if index is None or int(index) != -1:
            kept.append((env, update))
    return kept

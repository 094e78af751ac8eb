"""What apply_events does for batch runs before applying: fetch signed-URL payloads, and give
2025-04-21 runs their file (their events carry the chunk, not the file index).

A signed payload that cannot be fetched yet makes the whole group retry before anything is
applied (every apply is idempotent anyway); one that can never be fetched is recorded in
`relay:signed-url-error:{eventId}` and skipped, never a crash.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
import orjson
from arq import Retry

from relay_core import keys
from relay_core.batches import lua as batch_lua
from relay_core.runs.events import Envelope, RunUpdate, is_signed_data_url
from relay_core.runs.store import META_BATCH, META_FILE
from worker.runs.signed_url import FetchError, fetch_payload

log = logging.getLogger(__name__)

META_CHUNK = "relayChunk"
SIGNED_URL_MAX_TRIES = 8


async def fetch_signed_payloads(ctx: dict[str, Any], envelopes: list[Envelope]) -> list[Envelope]:
    if not any(is_signed_data_url(env.payload) for env in envelopes):
        return envelopes
    session: aiohttp.ClientSession = ctx["extend_http"]
    out: list[Envelope] = []
    for env in envelopes:
        if not is_signed_data_url(env.payload):
            out.append(env)
            continue
        try:
            payload = await fetch_payload(session, str(env.payload["data"]), ctx["settings"])
        except FetchError as exc:
            await _fetch_failed(ctx, env, exc)
            continue
        out.append(Envelope(env.event_id, env.event_type, payload))
    return out


async def _fetch_failed(ctx: dict[str, Any], env: Envelope, exc: FetchError) -> None:
    # One expiring key per event (not one hash that grows forever): kept for the retention.
    keep = ctx["settings"].retention.ms
    await ctx["redis"].set(keys.signed_url_error(env.event_id), str(exc), px=keep or None)
    tries = int(ctx.get("job_try", 1))
    log.warning("signed payload event=%s try=%d: %s", env.event_id, tries, exc)
    if exc.retryable and tries < SIGNED_URL_MAX_TRIES:
        raise Retry(defer=min(60.0, 2.0**tries)) from None


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
    async with redis.pipeline(transaction=False) as pipe:
        for env, update in waiting:
            batch_id = str(update.metadata[META_BATCH])
            body = orjson.dumps(
                {"eventId": env.event_id, "eventType": env.event_type, "payload": env.payload}
            )
            script_keys = [
                keys.batch(batch_id),
                keys.batch_run_files(batch_id),
                keys.batch_parked(batch_id),
            ]
            args = [update.run_id, body]
            await batch_lua.run(redis, batch_lua.RESOLVE_OR_PARK, script_keys, args, pipe)
        found = dict(zip((id(u) for _, u in waiting), await pipe.execute(), strict=True))
    kept = []
    for env, update in items:
        index = found.get(id(update))
        if index is not None and int(index) >= 0:
            update.metadata = {**update.metadata, META_FILE: int(index)}
        if index is None or int(index) != -1:
            kept.append((env, update))
    return kept

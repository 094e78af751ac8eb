"""notify_deliver: post one attempt of one notification, signed, and record what happened.

The job for attempt n of round r is `notify:{delivery}:{r}:{n}`; the outcome is recorded with
the next attempt's (deferred) job in one step, so a retry has the same webhook-id and body and
a job run twice records once. A destination holds at most NOTIFY_MAX_IN_FLIGHT posts at a time
across the fleet: a job finding no slot waits briefly, without spending an attempt.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import aiohttp
from arq import Retry

from relay_core import retry
from relay_core.notify import dead, delivery, signing, ssrf, store
from relay_core.notify.delivery import Delivery, Outcome
from relay_core.settings import Settings
from worker.context import WorkerContext, context

log = logging.getLogger(__name__)

USER_AGENT = "workflow-relay-notify/1"
NOTIFY_JOB_TIMEOUT_SECONDS = 40


async def notify_startup(wc: WorkerContext) -> None:
    """Dead notifications kept by an older release move to the one dead-letter store."""
    moved = await dead.migrate_legacy(wc.redis, wc.settings.retention.ms)
    if moved:
        log.info("notify dead letters moved to the one dead-letter store: %d", moved)


async def notify_deliver(
    ctx: dict[str, Any], delivery_id: str, round_: int, attempt: int
) -> dict[str, Any]:
    wc = context(ctx)
    redis, settings = wc.redis, wc.settings
    d = await delivery.load(redis, delivery_id)
    if d is None or (d.round, d.attempt) != (round_, attempt) or d.state not in ("pending", "dead"):
        return {"deliveryId": delivery_id, "skipped": True}  # stale or repeated: recorded already
    if d.state == "dead":
        # This job recorded the death and may have stopped before the dead letter: add it.
        _, error = await dead.last_error(redis, d.id)
        await dead.add(redis, d, error, settings.retention.ms)
        return {"deliveryId": delivery_id, "state": "dead"}
    schedule = settings.notify.schedule
    lease_ms = int((settings.notify.timeout_seconds + 10) * 1000)
    token = await delivery.take_slot(redis, d.dest, settings.notify.max_in_flight, lease_ms)
    if token is None:
        # Waiting jobs poll less often the longer they wait (with jitter), so thousands queued
        # for one slow destination do not churn the queue; an attempt is not spent.
        raise Retry(defer=retry.NOTIFY_SLOT.delay(wc.job_try))
    try:
        # Read under the slot: a 410 answered to the slot's previous holder is seen here.
        dest = await store.load_destination(redis, d.dest)
        if dest is None or not dest.enabled:
            why = "destination deleted" if dest is None else "destination disabled"
            outcome = Outcome("dropped", error=why)
        else:
            outcome = await _post(wc.notify_http, settings, d, dest)
            if outcome.state == "disabled":
                await store.disable(redis, d.dest, f"answered 410 to {d.msg}")
    finally:
        await delivery.release_slot(redis, d.dest, token)
    recorded = await delivery.record(redis, d, outcome, schedule)
    if recorded and outcome.state == "dead":
        error = outcome.error or f"answered {outcome.status}"
        await dead.add(redis, d, error, settings.retention.ms)
    log.info(
        "notify_deliver delivery=%s dest=%s type=%s attempt=%d status=%s outcome=%s ms=%.1f",
        d.id,
        d.dest,
        d.type,
        d.attempt + 1,
        outcome.status,
        outcome.state,
        outcome.ms,
    )
    return {"deliveryId": delivery_id, "state": outcome.state, "status": outcome.status}


async def notify_redrive(ctx: dict[str, Any], delivery_id: str) -> dict[str, Any]:
    """A dead letter's redrive (relay_core.ops.deadletters): the delivery's next round. Idempotent:
    a delivery no longer dead is left alone."""
    redriven = await dead.redrive(context(ctx).redis, delivery_id)
    return {"deliveryId": delivery_id, "redriven": int(redriven)}


async def _post(
    session: aiohttp.ClientSession, settings: Settings, d: Delivery, dest: store.Destination
) -> Outcome:
    schedule = settings.notify.schedule
    headers = {
        **signing.headers(dest.secret, d.msg, d.body),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }
    started = time.perf_counter()
    try:
        ssrf.check_target(dest.url, settings.notify.allowed_hosts)
        timeout = aiohttp.ClientTimeout(total=settings.notify.timeout_seconds)
        async with session.post(
            dest.url, data=d.body, headers=headers, timeout=timeout, allow_redirects=False
        ) as resp:
            await resp.read()
            status = resp.status
    except ssrf.BlockedAddress as exc:
        # The address will not become acceptable by waiting: dead-lettered at once.
        return Outcome("dead", error=f"blocked: {exc}", ms=_ms(started))
    except aiohttp.ClientConnectorError as exc:
        if isinstance(exc.os_error, ssrf.BlockedAddress):
            return Outcome("dead", error=f"blocked: {exc.os_error}", ms=_ms(started))
        return _failed(d, schedule, None, f"connect: {exc.os_error}", started)
    except (aiohttp.ClientError, TimeoutError) as exc:
        return _failed(d, schedule, None, f"{exc.__class__.__name__}: {exc}"[:300], started)
    if 200 <= status < 300:
        return Outcome("delivered", status, ms=_ms(started))
    if status == 410:
        return Outcome("disabled", status, error="410 Gone: destination disabled", ms=_ms(started))
    error = "redirects are not followed" if 300 <= status < 400 else f"answered {status}"
    return _failed(d, schedule, status, error, started)


def _failed(
    d: Delivery, schedule: tuple[float, ...], status: int | None, error: str, started: float
) -> Outcome:
    return Outcome(delivery.next_state(False, d.attempt, schedule), status, error, _ms(started))


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000

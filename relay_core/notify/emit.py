"""Emit: turn an event into one delivery per destination, each created with its first job.

Called from the worker's existing paths (apply_events, batch_completed, the deploy job); it
never posts anything itself, so applying events never waits on a producer's endpoint. The
message id is derived from the event and its subject, so a job that runs twice (arq is
at-least-once) emits the same message once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from relay_core import keys
from relay_core.batches import view as batch_view
from relay_core.deploys import store as deploys
from relay_core.evals.outputs import extracted_values
from relay_core.notify import events as ev
from relay_core.redis import queue, scripts
from relay_core.runs.events import Envelope, RunUpdate
from relay_core.runs.status import RANK
from relay_core.runs.store import ApplyResult, relay_file

MESSAGE_TTL_MS = 7 * 86_400_000
TERMINAL = frozenset(s for s, r in RANK.items() if r == max(RANK.values()))


@dataclass(slots=True)
class Event:
    type: str
    subject: str  # what the event is about (run, batch or deploy id): with the type, its id
    data: dict[str, Any]
    batch_id: str | None = None  # the batch whose callback may hear it
    file_index: int | None = None  # a batch run's file, added to data as `file` when sent

    @property
    def message_id(self) -> str:
        return ev.message_id(self.type, self.subject)


def delivery_id(msg_id: str, dest: str) -> str:
    return "dlv_" + hashlib.sha256(f"{msg_id}\0{dest}".encode()).hexdigest()[:24]


def run_events(found: list[tuple[Envelope, RunUpdate]], results: list[ApplyResult]) -> list[Event]:
    """run.completed for a batch run that is terminal, review.completed for a finished review.

    Decided from the state after the apply, not only from "changed": a group re-run after a
    crash (its applies now no-ops) emits again, and the message id makes that harmless."""
    out: list[Event] = []
    for (env, update), result in zip(found, results, strict=True):
        status = update.status
        reached = status is not None and (result.changed or result.previous == status)
        if not reached:
            continue
        batch_id, index = relay_file(update.metadata)
        base: dict[str, Any] = {
            "runId": update.run_id,
            "status": status,
            "batchId": batch_id,
            "fileIndex": index,
        }
        if status in TERMINAL and batch_id is not None:
            data = {**base, "workflowId": update.workflow_id}
            if update.failure_reason:
                data["failureReason"] = update.failure_reason
            outputs = extracted_values(env.payload)
            if outputs is not None:
                data["outputs"] = outputs
            out.append(Event(ev.RUN_COMPLETED, update.run_id, data, batch_id, index))
        if result.review_completed or (
            not result.changed
            and (status == "REJECTED" or (status == "PROCESSED" and update.reviewed))
        ):
            data = {
                **base,
                "reviewedBy": update.reviewed_by,
                "rejectionNote": update.rejection_note,
            }
            out.append(Event(ev.REVIEW_COMPLETED, update.run_id, data, batch_id, index))
    return out


async def batch_events(redis: Redis, batch_id: str) -> list[Event]:
    """batch.completed (with its counts) or batch.cancelled, once the batch is finished."""
    raw = await redis.hgetall(keys.batch(batch_id))  # type: ignore[misc]
    h = {k.decode(): v.decode() for k, v in raw.items()}
    if "completedAt" not in h:
        return []
    view = batch_view.view(batch_id, h)
    kind = ev.BATCH_CANCELLED if h.get("state") == "cancelled" else ev.BATCH_COMPLETED
    data = {
        name: view.get(name)
        for name in ("batchId", "workflowId", "state", "files", "runs", "metadata", "completedAt")
    }
    for name in ("submitFailed", "unsent", "duplicateRuns"):
        data[name] = int(h.get(name, "0") or 0)
    return [Event(kind, batch_id, data, batch_id)]


async def deploy_events(redis: Redis, deploy_id: str) -> list[Event]:
    """deploy.succeeded or deploy.failed once a deploy reached either (to subscriptions)."""
    record = await deploys.get(redis, deploy_id)
    if record is None or record["status"] not in (deploys.DEPLOYED, deploys.FAILED):
        return []
    kind = ev.DEPLOY_SUCCEEDED if record["status"] == deploys.DEPLOYED else ev.DEPLOY_FAILED
    names = ("id", "rule", "trigger", "provider", "target", "status", "version", "error")
    data = {name: record.get(name) for name in names}
    data["finishedAt"] = record.get("finishedAt")
    return [Event(kind, deploy_id, data)]


async def emit(redis: Redis, events: list[Event], now_ms: int | None = None) -> int:
    """Create the deliveries of `events`; the number created (0 when nobody listens)."""
    if not events:
        return 0
    now = queue.now_ms() if now_ms is None else now_ms
    routes, callbacks = await _listeners(redis, {e.batch_id for e in events if e.batch_id})
    plans = []
    for event in events:
        dests = [sub for sub, names in routes.items() if event.type in names]
        cb = callbacks.get(event.batch_id or "")
        if cb is not None and event.type in cb:
            dests.append(str(event.batch_id))
        if dests:
            plans.append((event, dests))
    if not plans:
        return 0
    await _add_files(redis, [e for e, _ in plans])

    async def fill(pipe: Pipeline) -> None:
        for event, dests in plans:
            await _queue_create(pipe, event, dests, now)

    # Creation is idempotent (the message's marker), so after a NOSCRIPT all run again.
    created = await scripts.pipelined(redis, fill)
    return sum(int(n) for n in created)


async def _listeners(
    redis: Redis, batch_ids: set[str]
) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    """In one round trip: the enabled subscriptions' events, and each batch's callback events
    (for the batches whose callback is still enabled)."""
    ids = sorted(batch_ids)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hgetall(keys.NOTIFY_ROUTES)
        for batch_id in ids:
            pipe.hmget(keys.batch(batch_id), ["cbUrl", "cbEvents", "cbOff"])
        raw_routes, *raws = await pipe.execute()
    routes = {k.decode(): ev.parse_events(v.decode(), ev.ALL_EVENTS) for k, v in raw_routes.items()}
    callbacks = {}
    for batch_id, (url, names, off) in zip(ids, raws, strict=True):
        if url is not None and off is None:
            callbacks[batch_id] = ev.parse_events(
                names.decode() if names else None, ev.DEFAULT_BATCH_EVENTS
            )
    return routes, callbacks


async def _add_files(redis: Redis, events: list[Event]) -> None:
    """A run event names its file as the producer gave it (url, id or name; never a text)."""
    wanted = [e for e in events if e.batch_id and e.file_index is not None]
    if not wanted:
        return
    async with redis.pipeline(transaction=False) as pipe:
        for e in wanted:
            pipe.lindex(keys.batch_files(str(e.batch_id)), int(e.file_index or 0))
        raws = await pipe.execute()
    for event, raw in zip(wanted, raws, strict=True):
        if raw is not None:
            stored = orjson.loads(raw)
            event.data["file"] = {k: stored[k] for k in ("url", "id", "name") if k in stored}


async def _queue_create(pipe: Pipeline, event: Event, dests: list[str], now: int) -> None:
    msg = event.message_id
    body = ev.body(event.type, event.data, now).decode()
    delivery_keys: list[str] = []
    delivery_args: list[bytes | str] = []
    for dest in dests:
        did = delivery_id(msg, dest)
        fields = {
            "msg": msg,
            "dest": dest,
            "type": event.type,
            "body": body,
            "state": "pending",
            "r": 0,
            "n": 0,
            "createdAt": now,
        }
        job_id = queue.notify_job_id(did, 0, 0)
        delivery_keys += [keys.notify_delivery(did), queue.JOB_KEY_PREFIX + job_id]
        delivery_args += [
            orjson.dumps(fields),
            queue.job_bytes(queue.NOTIFY_DELIVER, [did, 0, 0], now),
            job_id,
        ]
    await scripts.NOTIFY_CREATE.queue(
        pipe,
        keys={"marker": keys.notify_msg(msg), "queue": queue.QUEUE, "deliveries": delivery_keys},
        args={"marker_ttl_ms": MESSAGE_TTL_MS, "now": now, "deliveries": delivery_args},
    )

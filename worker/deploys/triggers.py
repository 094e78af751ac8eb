"""Triggers: turn applied run changes and batch completions into claimed deploys.

Matching is in memory and claiming is one Lua call per (rule, subject), so apply_events stays
fast; a second apply of the same events finds the claims taken and does nothing. Gates are
evaluated later, by the deploy job, so a skipped deploy is audited like any other.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import orjson
from redis.asyncio import Redis

from relay_core import keys
from relay_core.deploys import store as deploys
from relay_core.deploys.rules import Rule, RuleSet, Trigger
from relay_core.deploys.store import Subject
from relay_core.evals import store as eval_store
from relay_core.redis.queue import now_ms
from relay_core.runs.events import Envelope, RunUpdate
from relay_core.runs.status import RunStatus
from relay_core.runs.store import ApplyResult

log = logging.getLogger(__name__)

COMPLETED_EVENT = "workflow_run.completed"
DEPLOYED_EVENT = "workflow.deployed"
REVIEW_END_EVENTS = frozenset({COMPLETED_EVENT, "workflow_run.rejected"})
# The event may overtake our own record of the answer, so a deploy still `calling` can match.
_ANNOUNCED = (deploys.CALLING, deploys.DEPLOYED)


def run_triggers(event_type: str, update: RunUpdate, result: ApplyResult) -> list[Trigger]:
    """Which run triggers one applied event fires.

    Not only on a change: apply_events may run twice (a worker killed after the apply, before
    the claims), and the second run sees no change. Claims are idempotent, so firing again for
    a run that is already PROCESSED costs one no-op claim and loses nothing.
    """
    current = update.status if result.changed else result.previous
    fired: list[Trigger] = []
    if event_type == COMPLETED_EVENT and current == RunStatus.PROCESSED:
        fired.append("run.completed")
    if result.review_completed or (not result.changed and event_type in REVIEW_END_EVENTS):
        fired.append("review.completed")
    return fired


async def fire_run_triggers(
    redis: Redis,
    rules: RuleSet,
    applied: Iterable[tuple[str, RunUpdate, ApplyResult]],
    *,
    retention_ms: int,
) -> int:
    """Claim a deploy for every matching run rule; return how many were newly claimed."""
    claimed = 0
    for event_type, update, result in applied:
        if eval_store.marker_of(update.metadata):
            continue  # an evaluation's own run: it triggers no rule
        for trigger in run_triggers(event_type, update, result):
            matching = rules.matching(
                trigger, update.workflow_id, update.workflow_version, update.metadata
            )
            # A repeated end-of-review event: only a run whose review did complete counts.
            if matching and trigger == "review.completed" and not result.review_completed:
                matching = matching if await _review_completed(redis, update.run_id) else []
            for rule in matching:
                subject = Subject(trigger, update.run_id)
                claimed += await claim(redis, rule, subject, retention_ms)
    return claimed


async def _review_completed(redis: Redis, run_id: str) -> bool:
    flag = await redis.hget(keys.run(run_id), "rc")  # type: ignore[misc]
    return bool(flag == b"1")


async def claim(redis: Redis, rule: Rule, subject: Subject, retention_ms: int) -> int:
    deploy = rule.deploy
    did, created = await deploys.claim(
        redis,
        rule.name,
        subject,
        deploy.provider,
        deploy.workflow,
        rule.dry_run,
        retention_ms=retention_ms,
    )
    if created:
        log.info("deploy claimed deploy=%s trigger=%s", did, subject.trigger)
    return int(created)


async def fire_batch_triggers(
    redis: Redis, rules: RuleSet, batch_id: str, *, retention_ms: int
) -> int:
    raw = await redis.hmget(keys.batch(batch_id), ["workflowId", "version", "metadata"])  # type: ignore[misc]
    workflow, version, meta = (v.decode() if v else None for v in raw)
    metadata = _json_object(meta)
    eval_id = eval_store.marker_of(metadata)
    if eval_id is not None:
        # An evaluation's batch triggers no rule: it wakes the deploy that waits for it.
        await eval_store.wake_deploy(redis, eval_id, batch_id)
        return 0
    claimed = 0
    for rule in rules.matching("batch.completed", workflow, version, metadata):
        claimed += await claim(redis, rule, Subject("batch.completed", batch_id), retention_ms)
    return claimed


def _json_object(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


async def record_deployed_events(redis: Redis, envelopes: Iterable[Envelope]) -> int:
    """Record each Extend `workflow.deployed` event against the deploy it announces."""
    recorded = 0
    for env in envelopes:
        if env.event_type == DEPLOYED_EVENT:
            recorded += await _record_deployed(redis, env)
    return recorded


async def _record_deployed(redis: Redis, env: Envelope) -> int:
    workflow_id, version_id = deployed_ids(env.payload)
    if workflow_id is None:
        return 0
    ids = await redis.zrevrange(keys.deploys_by_target("extend", workflow_id), 0, 19)
    records = [await deploys.load(redis, raw_id.decode()) for raw_id in ids]
    if any(r is not None and r.get("eventId") == env.event_id for r in records):
        return 0  # recorded already (a re-applied or replayed event)
    for record in records:
        if record is None or "eventId" in record or record.get("status") not in _ANNOUNCED:
            continue
        if version_id and record.get("versionId") not in (None, version_id):
            continue
        fields = {"eventId": env.event_id, "eventAt": now_ms(), "eventVersionId": version_id}
        return int(await deploys.move(redis, record["id"], allowed=_ANNOUNCED, fields=fields))
    log.info("workflow.deployed event=%s workflow=%s matched no deploy", env.event_id, workflow_id)
    return 0


def deployed_ids(payload: dict[str, Any]) -> tuple[str | None, str | None]:
    """(workflow id, version id) from a workflow.deployed payload (a workflow or a version)."""
    if payload.get("object") == "workflow_version":
        workflow = payload.get("workflow")
        wid = payload.get("workflowId") or (
            workflow.get("id") if isinstance(workflow, dict) else None
        )
        return _s(wid), _s(payload.get("id"))
    version = payload.get("workflowVersion") or payload.get("deployedVersion")
    vid = version.get("id") if isinstance(version, dict) else None
    return _s(payload.get("id")), _s(vid)


def _s(value: object) -> str | None:
    return value if isinstance(value, str) and value else None

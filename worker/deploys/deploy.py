"""run_deploy: take one claimed deploy to its final state, exactly once on the platform.

The deploy hash (relay_core.deploys.store) is the authority, not the job: the job may run twice, be
retried, or be picked up after a killed worker. A short lease keeps two workers off the same
deploy at once; the `calling` state plus the pre-call facts let a later attempt look at the
platform before it calls again.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

import orjson
from arq import Retry
from redis.asyncio import Redis
from redis.exceptions import LockError

from relay_core import keys
from relay_core.deploys import store as deploys
from relay_core.deploys.gates import GateFailure, batch_gates, run_gates
from relay_core.deploys.rules import Rule
from relay_core.deploys.store import (
    CALLING,
    CLAIMED,
    DEPLOYED,
    DRY_RUN,
    EVALUATING,
    FAILED,
    SKIPPED,
)
from relay_core.notify import emit
from relay_core.ops import metrics
from relay_core.platforms.deploy_clients import deployer_for
from relay_core.platforms.deployer import Deployer, Outcome, Placeholders
from relay_core.platforms.http import PlatformError
from worker import deadletter
from worker.context import WorkerContext, context
from worker.deploys import evals

log = logging.getLogger(__name__)

# Above the few platform calls a deploy makes (each bounded by DEPLOY_TIMEOUT_SECONDS).
LEASE_SECONDS = 150
DEPLOY_JOB_TIMEOUT_SECONDS = 120
LEASE_BUSY_RETRY_SECONDS = 2.0
MAX_JOB_TRIES = 100  # arq's bound; DEPLOY_MAX_ATTEMPTS is the one that gives up on a platform


async def run_deploy(ctx: dict[str, Any], deploy_id: str) -> dict[str, str]:
    wc = context(ctx)
    started = time.perf_counter()
    record = await deploys.load(wc.redis, deploy_id)
    if record is None or record["status"] in deploys.FINAL:
        return {"deployId": deploy_id, "status": record["status"] if record else "missing"}
    lease = wc.redis.lock(keys.deploy_lease(deploy_id), timeout=LEASE_SECONDS)
    if not await lease.acquire(blocking=False):
        raise Retry(defer=LEASE_BUSY_RETRY_SECONDS)
    try:
        status = await _advance(wc, deploy_id)
    finally:
        with contextlib.suppress(LockError):
            # Expired mid-job: another worker may hold it now, and the states guard the writes.
            await lease.release()
    log.info(
        "run_deploy deploy=%s rule=%s provider=%s status=%s try=%d ms=%.1f",
        deploy_id,
        record["rule"],
        record["provider"],
        status,
        wc.job_try,
        (time.perf_counter() - started) * 1000,
    )
    return {"deployId": deploy_id, "status": status}


async def _advance(wc: WorkerContext, did: str) -> str:
    # Re-read under the lease: another worker may have finished it since the first read.
    record = await deploys.load(wc.redis, did)
    if record is None or record["status"] in deploys.FINAL:
        return record["status"] if record else "missing"
    rule = wc.rules.get(record["rule"])
    if rule is None:
        return await _finish(wc, did, FAILED, error="the rule is no longer configured")
    rollback_to = record.get("rollbackTo") or None
    deployer = deployer_for(rule.deploy, wc.deploy_http, wc.settings, rollback_to)
    try:
        return await _steps(wc, did, record, rule, deployer)
    except PlatformError as exc:
        return await _platform_failed(wc, did, exc)
    except Retry:
        raise  # more work in a later run of the job (an evaluation reading its runs)
    except Exception as exc:
        if wc.job_try >= wc.deploy.attempts:
            error = f"internal error: {exc.__class__.__name__}"
            if await _finish(wc, did, FAILED, error=error) == FAILED:
                await deadletter.deploy_gave_up(wc, did, error, wc.job_try)
        raise


async def _steps(
    wc: WorkerContext, did: str, record: dict[str, str], rule: Rule, deployer: Deployer
) -> str:
    redis = wc.redis
    status = record["status"]
    if status == CLAIMED:
        failed = await _gate(redis, rule, record)
        if failed is not None:
            return await _finish(wc, did, SKIPPED, gate=failed.gate, reason=failed.reason)
        if record.get("dryRun") == "1":
            values = (await placeholders(redis, rule, record)).values()
            return await _finish(wc, did, DRY_RUN, request=deployer.preview(values))
        if evals.applies(rule, record):
            status = await _start_eval(wc, did)
            if status != EVALUATING:
                return status
    if status == EVALUATING:
        result = await evals.evaluate(wc, did, rule)
        if result is None:
            return EVALUATING  # its batches' completion queues this job again
        if not result.passed:
            return await _finish(wc, did, SKIPPED, gate="eval", reason=result.reason)
    if status in (CLAIMED, EVALUATING):
        facts = await _prepare(wc, did, record, rule, deployer, status)
        if facts is None:
            return "raced"
    else:
        # `calling` on entry: an earlier attempt may have reached the platform. Look first.
        facts = _facts(record)
        found = await deployer.look(facts)
        if found is not None:
            return await _deployed(
                wc, did, found, "found", await _read_back(deployer, found, facts)
            )
    outcome = await deployer.deploy(facts)
    return await _deployed(wc, did, outcome, "deployed", await _read_back(deployer, outcome, facts))


async def _start_eval(wc: WorkerContext, did: str) -> str:
    attempt = {"try": wc.job_try, "outcome": "evaluating"}
    fields = {"status": EVALUATING, "evalId": did}
    moved = await deploys.move(wc.redis, did, allowed=(CLAIMED,), fields=fields, attempt=attempt)
    return EVALUATING if moved else "raced"


async def _prepare(
    wc: WorkerContext,
    did: str,
    record: dict[str, str],
    rule: Rule,
    deployer: Deployer,
    status: str,
) -> dict[str, Any] | None:
    """Read the platform, then record the pre-call facts and `calling` (None: lost a race)."""
    values = (await placeholders(wc.redis, rule, record)).values()
    facts = await deployer.prepare(values)
    attempt = {"try": wc.job_try, "outcome": "calling"}
    fields = {"status": CALLING, "facts": facts, "startedAt": _now()}
    if record.get("rollbackTo"):
        fields["reason"] = rollback_reason(facts)
    if status == EVALUATING:
        fields["reason"] = "evaluation passed"
    moved = await deploys.move(wc.redis, did, allowed=(status,), fields=fields, attempt=attempt)
    return facts if moved else None


def rollback_reason(facts: dict[str, Any]) -> str:
    source = facts.get("source") or {}
    number = source.get("version")
    return f"rollback to v{number}" if number else f"rollback to {source.get('id')}"


async def _read_back(deployer: Deployer, outcome: Outcome, facts: dict[str, Any]) -> dict[str, Any]:
    """Read the deployed version back; a failed read never fails a deploy that happened."""
    try:
        return await deployer.read_back(outcome, facts)
    except Exception as exc:  # whatever the read hits, the deploy stands
        log.warning("read back failed: %s", exc)
        return {"verified": None, "error": str(exc) or exc.__class__.__name__}


async def _gate(redis: Redis, rule: Rule, record: dict[str, str]) -> GateFailure | None:
    trigger, subject = record["trigger"], record["subject"]
    if trigger in deploys.BY_HAND:
        return None  # a person asked for it: gates guard automatic promotion only
    if trigger == "batch.completed":
        raw = await redis.hgetall(keys.batch(subject))  # type: ignore[misc]
        if not raw:
            return GateFailure("subject", f"batch {subject} is not tracked")
        return batch_gates(rule, {k.decode(): v.decode() for k, v in raw.items()})
    status = await redis.hget(keys.run(subject), "s")  # type: ignore[misc]
    return run_gates(rule, status.decode() if status else None)


async def placeholders(redis: Redis, rule: Rule, record: dict[str, str]) -> Placeholders:
    trigger, subject = record["trigger"], record["subject"]
    if trigger == "batch.completed" or (
        trigger in deploys.BY_HAND and await redis.exists(keys.batch(subject))
    ):
        return Placeholders(rule.name, subject, rule.workflow, batch_id=subject)
    if trigger not in deploys.BY_HAND or await redis.exists(keys.run(subject)):
        batch = await redis.hget(keys.run(subject), "b")  # type: ignore[misc]
        batch_id = batch.decode() if batch else ""
        return Placeholders(rule.name, subject, rule.workflow, batch_id=batch_id, run_id=subject)
    return Placeholders(rule.name, subject, rule.workflow)


def _facts(record: dict[str, str]) -> dict[str, Any]:
    facts = orjson.loads(record.get("facts", "{}"))
    return facts if isinstance(facts, dict) else {}


async def _deployed(
    wc: WorkerContext, did: str, outcome: Outcome, how: str, read_back: dict[str, Any]
) -> str:
    return await _finish(
        wc,
        did,
        DEPLOYED,
        attempt_outcome=how,
        readBack=read_back,
        versionId=outcome.version_id,
        versionNumber=outcome.version_number,
        versionName=outcome.version_name,
    )


async def _platform_failed(wc: WorkerContext, did: str, exc: PlatformError) -> str:
    n = wc.job_try
    if exc.retryable and n < wc.deploy.attempts:
        attempt = {"try": n, "outcome": "retry", "error": exc.message, "status": exc.status}
        await deploys.move(wc.redis, did, attempt=attempt, fields={"lastError": exc.message})
        raise Retry(defer=wc.deploy.backoff.delay(n, exc.retry_after))
    error = exc.message if not exc.retryable else f"gave up after {n} attempts: {exc.message}"
    status = await _finish(wc, did, FAILED, error=error, errorStatus=exc.status)
    if exc.retryable and status == FAILED:
        await deadletter.deploy_gave_up(wc, did, error, n)
    return status


async def _finish(
    wc: WorkerContext, did: str, status: str, *, attempt_outcome: str | None = None, **fields: Any
) -> str:
    attempt: dict[str, Any] = {"try": wc.job_try, "outcome": attempt_outcome or status}
    for name in ("gate", "error"):
        if fields.get(name) is not None:
            attempt[name] = fields[name]
    done = {**fields, "status": status, "finishedAt": _now()}
    moved = await deploys.move(wc.redis, did, fields=done, attempt=attempt)
    if moved:
        metrics.DEPLOYS.inc(status)
        await deploys.expire_final(wc.redis, did, wc.settings.retention.ms)
    # Also when the move raced (a re-run after a crash): the message id keeps it single.
    await emit.emit(wc.redis, await emit.deploy_events(wc.redis, did))
    return status if moved else "raced"


def _now() -> int:
    return int(time.time() * 1000)

"""run_deploy: take one claimed deploy to its final state, exactly once on the platform.

The deploy hash (relay_core.deploys.store) is the authority, not the job: the job may run twice, be
retried, or be picked up after a killed worker. A short lease keeps two workers off the same
deploy at once; the `calling` state plus the pre-call facts let a later attempt look at the
platform before it calls again.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from typing import Any, TypedDict, cast

import aiohttp
import orjson
from arq import Retry
from redis.asyncio import Redis
from redis.exceptions import LockError

from relay_core import keys
from relay_core.deploys import store as deploys
from relay_core.deploys.gates import GateFailure, batch_gates, run_gates
from relay_core.deploys.rules import Rule, RuleSet
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
from relay_core.settings import Settings
from worker import deadletter
from worker.deploys import evals

log = logging.getLogger(__name__)

# Above the few platform calls a deploy makes (each bounded by DEPLOY_TIMEOUT_SECONDS).
LEASE_SECONDS = 150
DEPLOY_JOB_TIMEOUT_SECONDS = 120
LEASE_BUSY_RETRY_SECONDS = 2.0
MAX_JOB_TRIES = 100  # arq's bound; DEPLOY_MAX_ATTEMPTS is the one that gives up on a platform


class DeployCtx(TypedDict):
    redis: Redis
    settings: Settings
    rules: RuleSet
    deploy_http: aiohttp.ClientSession
    job_try: int


async def deploy_startup(ctx: dict[str, Any], rules: RuleSet) -> None:
    ctx["rules"] = rules
    session = aiohttp.ClientSession()
    # aiohttp silently resends an "idempotent" method (PUT) once when the server drops the
    # connection; an xpander PUT deploys again each time, so every retry must be ours, after a
    # look. There is no public switch for it (aiohttp 3.14).
    session._retry_connection = False
    ctx["deploy_http"] = session


async def deploy_shutdown(ctx: dict[str, Any]) -> None:
    session = ctx.get("deploy_http")
    if session is not None:
        await session.close()


async def run_deploy(raw_ctx: dict[str, Any], deploy_id: str) -> dict[str, str]:
    ctx = cast(DeployCtx, raw_ctx)
    started = time.perf_counter()
    record = await deploys.load(ctx["redis"], deploy_id)
    if record is None or record["status"] in deploys.FINAL:
        return {"deployId": deploy_id, "status": record["status"] if record else "missing"}
    lease = ctx["redis"].lock(keys.deploy_lease(deploy_id), timeout=LEASE_SECONDS)
    if not await lease.acquire(blocking=False):
        raise Retry(defer=LEASE_BUSY_RETRY_SECONDS)
    try:
        status = await _advance(ctx, deploy_id)
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
        ctx["job_try"],
        (time.perf_counter() - started) * 1000,
    )
    return {"deployId": deploy_id, "status": status}


async def _advance(ctx: DeployCtx, did: str) -> str:
    # Re-read under the lease: another worker may have finished it since the first read.
    record = await deploys.load(ctx["redis"], did)
    if record is None or record["status"] in deploys.FINAL:
        return record["status"] if record else "missing"
    rule = ctx["rules"].get(record["rule"])
    if rule is None:
        return await _finish(ctx, did, FAILED, error="the rule is no longer configured")
    rollback_to = record.get("rollbackTo") or None
    deployer = deployer_for(rule.deploy, ctx["deploy_http"], ctx["settings"], rollback_to)
    try:
        return await _steps(ctx, did, record, rule, deployer)
    except PlatformError as exc:
        return await _platform_failed(ctx, did, exc)
    except Retry:
        raise  # more work in a later run of the job (an evaluation reading its runs)
    except Exception as exc:
        if ctx["job_try"] >= ctx["settings"].deploys.max_attempts:
            error = f"internal error: {exc.__class__.__name__}"
            if await _finish(ctx, did, FAILED, error=error) == FAILED:
                await deadletter.deploy_gave_up(
                    cast(dict[str, Any], ctx), did, error, ctx["job_try"]
                )
        raise


async def _steps(
    ctx: DeployCtx, did: str, record: dict[str, str], rule: Rule, deployer: Deployer
) -> str:
    redis = ctx["redis"]
    status = record["status"]
    if status == CLAIMED:
        failed = await _gate(redis, rule, record)
        if failed is not None:
            return await _finish(ctx, did, SKIPPED, gate=failed.gate, reason=failed.reason)
        if record.get("dryRun") == "1":
            values = (await placeholders(redis, rule, record)).values()
            return await _finish(ctx, did, DRY_RUN, request=deployer.preview(values))
        if evals.applies(rule, record):
            status = await _start_eval(ctx, did)
            if status != EVALUATING:
                return status
    if status == EVALUATING:
        result = await evals.evaluate(ctx, did, rule)
        if result is None:
            return EVALUATING  # its batches' completion queues this job again
        if not result.passed:
            return await _finish(ctx, did, SKIPPED, gate="eval", reason=result.reason)
    if status in (CLAIMED, EVALUATING):
        facts = await _prepare(ctx, did, record, rule, deployer, status)
        if facts is None:
            return "raced"
    else:
        # `calling` on entry: an earlier attempt may have reached the platform. Look first.
        facts = _facts(record)
        found = await deployer.look(facts)
        if found is not None:
            return await _deployed(
                ctx, did, found, "found", await _read_back(deployer, found, facts)
            )
    outcome = await deployer.deploy(facts)
    return await _deployed(
        ctx, did, outcome, "deployed", await _read_back(deployer, outcome, facts)
    )


async def _start_eval(ctx: DeployCtx, did: str) -> str:
    attempt = {"try": ctx["job_try"], "outcome": "evaluating"}
    fields = {"status": EVALUATING, "evalId": did}
    moved = await deploys.move(
        ctx["redis"], did, allowed=(CLAIMED,), fields=fields, attempt=attempt
    )
    return EVALUATING if moved else "raced"


async def _prepare(
    ctx: DeployCtx,
    did: str,
    record: dict[str, str],
    rule: Rule,
    deployer: Deployer,
    status: str,
) -> dict[str, Any] | None:
    """Read the platform, then record the pre-call facts and `calling` (None: lost a race)."""
    values = (await placeholders(ctx["redis"], rule, record)).values()
    facts = await deployer.prepare(values)
    attempt = {"try": ctx["job_try"], "outcome": "calling"}
    fields = {"status": CALLING, "facts": facts, "startedAt": _now()}
    if record.get("rollbackTo"):
        fields["reason"] = rollback_reason(facts)
    if status == EVALUATING:
        fields["reason"] = "evaluation passed"
    moved = await deploys.move(ctx["redis"], did, allowed=(status,), fields=fields, attempt=attempt)
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
    ctx: DeployCtx, did: str, outcome: Outcome, how: str, read_back: dict[str, Any]
) -> str:
    return await _finish(
        ctx,
        did,
        DEPLOYED,
        attempt_outcome=how,
        readBack=read_back,
        versionId=outcome.version_id,
        versionNumber=outcome.version_number,
        versionName=outcome.version_name,
    )


async def _platform_failed(ctx: DeployCtx, did: str, exc: PlatformError) -> str:
    settings, n = ctx["settings"], ctx["job_try"]
    if exc.retryable and n < settings.deploys.max_attempts:
        attempt = {"try": n, "outcome": "retry", "error": exc.message, "status": exc.status}
        await deploys.move(ctx["redis"], did, attempt=attempt, fields={"lastError": exc.message})
        raise Retry(defer=backoff(settings, n, exc.retry_after))
    error = exc.message if not exc.retryable else f"gave up after {n} attempts: {exc.message}"
    status = await _finish(ctx, did, FAILED, error=error, errorStatus=exc.status)
    if exc.retryable and status == FAILED:
        await deadletter.deploy_gave_up(cast(dict[str, Any], ctx), did, error, n)
    return status


def backoff(settings: Settings, attempt: int, retry_after: float | None) -> float:
    """Exponential with jitter, honouring Retry-After, never above DEPLOY_RETRY_MAX_SECONDS."""
    cap = settings.deploys.retry_max_seconds
    delay: float = settings.deploys.retry_base_seconds * 2.0 ** (attempt - 1)
    delay *= random.uniform(0.5, 1.0)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return float(min(delay, cap))


async def _finish(
    ctx: DeployCtx, did: str, status: str, *, attempt_outcome: str | None = None, **fields: Any
) -> str:
    attempt: dict[str, Any] = {"try": ctx["job_try"], "outcome": attempt_outcome or status}
    for name in ("gate", "error"):
        if fields.get(name) is not None:
            attempt[name] = fields[name]
    done = {**fields, "status": status, "finishedAt": _now()}
    moved = await deploys.move(ctx["redis"], did, fields=done, attempt=attempt)
    if moved:
        metrics.DEPLOYS.inc(status)
        await deploys.expire_final(ctx["redis"], did, ctx["settings"].retention.ms)
    # Also when the move raced (a re-run after a crash): the message id keeps it single.
    await emit.emit(ctx["redis"], await emit.deploy_events(ctx["redis"], did))
    return status if moved else "raced"


def _now() -> int:
    return int(time.time() * 1000)

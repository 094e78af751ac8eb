"""The evaluation gate, run by the deploy job: start the golden set as batches, then score.

`evaluate` is called under the deploy's lease each time its job runs while the deploy is
`evaluating`. The first call pins the versions and submits one relay batch per role through
the Producer (idempotency key = evaluation + role, so a retry finds the same batch), marked in
their metadata so they trigger no rule. When a batch completes, its completion wakes the deploy
job; once every batch has, the runs' extracted values are read from Extend (and cached), scored
and the report is stored. Until then `evaluate` answers None and the job ends.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import orjson
from arq import Retry

from relay_core import keys
from relay_core.batches.producer import Producer
from relay_core.batches.runs import runs_page
from relay_core.deploys.rules import ExtendDeploy, Rule
from relay_core.evals import store
from relay_core.evals.compare import FileScore, Verdict, score_file, summarize, verdict
from relay_core.evals.config import EvalConfig, golden_json, load_golden
from relay_core.evals.outputs import extracted_values
from relay_core.platforms.deploy_clients import extend_client
from relay_core.platforms.extend_versions import get_version, summary
from relay_core.platforms.http import PlatformError
from worker.context import WorkerContext

log = logging.getLogger(__name__)

# Run reads per job run: at the default 10 GET/s well inside the deploy job's timeout. A
# bigger set is read over several runs of the job (the values read so far are kept).
READS_PER_JOB = 300


def applies(rule: Rule, record: dict[str, str]) -> bool:
    """Automatic and manual deploys are evaluated; a rollback and a dry run are not."""
    return rule.eval is not None and record.get("trigger") != "rollback"


async def evaluate(wc: WorkerContext, did: str, rule: Rule) -> Verdict | None:
    """The verdict once scored; None while the evaluation's batches are still running."""
    cfg = rule.eval
    if cfg is None:  # the rules changed while this deploy was being evaluated
        return Verdict(False, "the rule has no [rules.eval] any more")
    redis = wc.redis
    record = await store.load(redis, did)
    if record is None:
        record = await store.create(redis, did, rule.name, await _plan(wc, rule, cfg))
    if record["state"] != store.RUNNING:
        return Verdict(record["state"] == store.PASSED, record.get("reason") or "")
    plan = store.json_field(record, "plan")
    batches = dict(store.json_field(record, "batches") or {})
    for role in _roles(plan):
        if role not in batches:
            batches[role] = await _submit(wc, did, role, plan)
            await store.set_batch(redis, did, role, batches[role])
    if not all([await _done(redis, b) for b in batches.values()]):
        return None
    return await _score(wc, did, cfg, plan, batches)


def _roles(plan: dict[str, Any]) -> list[str]:
    return ["candidate", "baseline"] if plan.get("baseline") else ["candidate"]


async def _plan(wc: WorkerContext, rule: Rule, cfg: EvalConfig) -> dict[str, Any]:
    client = extend_client(wc.deploy_http, wc.settings)
    candidate = await get_version(client, rule.workflow, cfg.candidate)
    plan: dict[str, Any] = {
        "candidate": _pin(rule.workflow, candidate),
        "baseline": None,
        "thresholds": cfg.model_dump(exclude={"golden"}),
        "golden": golden_json(load_golden(Path(cfg.golden))),
    }
    if cfg.max_regression is not None:
        # The currently deployed version: the target's latest when the target is on Extend.
        target = rule.deploy.workflow if isinstance(rule.deploy, ExtendDeploy) else rule.workflow
        latest = await get_version(client, target, "latest")
        if latest.get("version") not in (None, "draft"):
            plan["baseline"] = _pin(target, latest)
    return plan


def _pin(workflow: str, version: dict[str, Any]) -> dict[str, Any]:
    number = str(version.get("version") or "draft")
    return {
        **summary(version),
        "workflow": workflow,
        "ref": number,
        "stepsDigest": _digest(version.get("steps")),
    }


def _digest(steps: Any) -> str:
    return hashlib.sha256(orjson.dumps(steps, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


async def _submit(wc: WorkerContext, did: str, role: str, plan: dict[str, Any]) -> str:
    pin = plan[role]
    body = {
        "workflowId": pin["workflow"],
        "version": pin["ref"],
        "files": [item["file"] for item in plan["golden"]],
        "metadata": {store.MARKER: did, store.ROLE_MARKER: role},
    }
    producer = Producer(wc.redis, wc.settings)
    accepted, created = await producer.submit_once(
        body, idempotency_key=f"{did}:{role}", scope="eval", producer="eval"
    )
    log.info("eval %s %s batch=%s created=%s", did, role, accepted.batchId, created)
    return accepted.batchId


async def _done(redis: Any, batch_id: str) -> bool:
    completed, state = await redis.hmget(keys.batch(batch_id), ["completedAt", "state"])
    return bool(completed) or state == b"cancelled"


async def _score(
    wc: WorkerContext, did: str, cfg: EvalConfig, plan: dict[str, Any], batches: dict[str, str]
) -> Verdict:
    report: dict[str, Any] = {}
    budget = [READS_PER_JOB]
    for role, batch_id in batches.items():
        files = await _role_scores(wc, did, role, batch_id, plan["golden"], cfg, budget)
        report[role] = _role_report(files, plan["golden"])
    baseline = report.get("baseline", {}).get("accuracy")
    result = verdict(cfg, report["candidate"]["accuracy"], baseline)
    if result.passed:
        result = await _unchanged(wc, plan) or result
    state = store.PASSED if result.passed else store.FAILED
    await store.finish(wc.redis, did, state, result.reason, report)
    log.info("eval %s %s: %s", did, state, result.reason)
    return result


async def _unchanged(wc: WorkerContext, plan: dict[str, Any]) -> Verdict | None:
    """A candidate edited while it was evaluated was not what got measured: fail the gate."""
    pin = plan["candidate"]
    client = extend_client(wc.deploy_http, wc.settings)
    now = await get_version(client, pin["workflow"], pin["ref"])
    if _digest(now.get("steps")) != pin["stepsDigest"]:
        return Verdict(False, f"the candidate ({pin['ref']}) changed while it was evaluated")
    return None


async def _role_scores(
    wc: WorkerContext,
    did: str,
    role: str,
    batch_id: str,
    golden: list[dict[str, Any]],
    cfg: EvalConfig,
    budget: list[int],
) -> list[FileScore]:
    redis = wc.redis
    page = await runs_page(redis, batch_id, len(golden), status=None, cursor=0, limit=len(golden))
    cached = await store.cached_values(redis, did, role)
    scores = []
    for item in page.items:
        index, expected = item["fileIndex"], golden[item["fileIndex"]]["expected"]
        if item["status"] != "PROCESSED":
            error = f"{item['status']}: {item['error']}" if item.get("error") else item["status"]
            scores.append(score_file(index, expected, None, cfg, error=error))
            continue
        if index not in cached:
            if budget[0] <= 0:
                raise Retry(defer=0.1)  # go on in a fresh run of the job
            budget[0] -= 1
            cached[index] = await _values(wc, item["runId"])
            await store.cache_value(redis, did, role, index, cached[index])
        values = cached[index]
        error = values.get("error") if isinstance(values, dict) and "error" in values else None
        actual = None if error else values.get("values")
        scores.append(score_file(index, expected, actual, cfg, error=error))
    return scores


async def _values(wc: WorkerContext, run_id: str) -> dict[str, Any]:
    """{"values": ...} read from Extend, or {"error": ...} when the run cannot be read."""
    await wc.limiter.acquire_blocking("GET")
    try:
        run = await wc.extend.get(run_id)
    except PlatformError as exc:
        if exc.retryable:
            raise  # the deploy job retries with backoff; values read so far are kept
        return {"error": f"run {run_id} could not be read: {exc}"}
    return {"values": extracted_values(run)}


def _role_report(files: list[FileScore], golden: list[dict[str, Any]]) -> dict[str, Any]:
    report = summarize(files)
    worst = sorted((f for f in files if f.accuracy < 1), key=lambda f: (f.accuracy, f.index))
    # Every file with a difference, worst first (the CLI shows the first few).
    report["files"] = [
        {
            "fileIndex": f.index,
            "file": golden[f.index]["file"],
            "accuracy": f.accuracy,
            "diffs": f.diffs,
            "error": f.error,
        }
        for f in worst
    ]
    report["failedRuns"] = [
        {"fileIndex": f.index, "file": golden[f.index]["file"], "error": f.error}
        for f in files
        if f.error
    ]
    report["filesScored"] = len(files)
    return report

"""Version lifecycle routes: roll a rule's target back, and diff what a deploy would change.

A rollback is a deploy like any other (same store, job, exactly-once and audit), claimed with
the trigger `rollback`; the worker reads the earlier version and deploys its steps as a new
version. The diff reads the platform (Extend only) and changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from ingest.appkeys import PLATFORM_HTTP, RULES, SETTINGS
from ingest.auth import require_api_key
from ingest.bodies import read_object
from ingest.deploys_api import claim_answer
from ingest.responses import json_response
from relay_core.deploys import versions
from relay_core.deploys.rules import ExtendDeploy, Rule
from relay_core.deploys.store import Subject
from relay_core.errors import ApiError, InvalidRequest, NotFound
from relay_core.platforms.deploy_clients import extend_client
from relay_core.platforms.extend_versions import get_version, summary
from relay_core.platforms.http import PlatformError

_SUBJECT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-")


def _rule(request: web.Request) -> Rule:
    name = request.match_info["name"]
    rule = request.app[RULES].get(name)
    if rule is None:
        raise NotFound(f"no rule {name!r} is configured", code="unknown_rule")
    return rule


async def rollback_rule(request: web.Request) -> web.Response:
    """POST /v1/rules/{name}/rollback `{"to": "3" | "previous", "subject"?}`: deploy an earlier
    version's steps as a new version."""
    require_api_key(request, "deploy")
    rule = _rule(request)
    body = await read_object(request)
    to = versions.check_rollback(rule, body)
    subject = Subject("rollback", _subject(body.get("subject"), to))
    return await claim_answer(request, rule, subject, extra={"rollbackTo": to})


def _subject(given: Any, to: str) -> str:
    if given is None:
        # No subject: every request is its own rollback.
        return f"{to}-{int(time.time() * 1000)}"
    if not isinstance(given, str) or not 1 <= len(given) <= 200 or set(given) - _SUBJECT_CHARS:
        raise InvalidRequest(
            "subject must be letters, digits, _ . : - (at most 200)", code="invalid_subject"
        )
    return given


async def diff_rule(request: web.Request) -> web.Response:
    """GET /v1/rules/{name}/diff: the steps the rule would deploy against the target's latest."""
    require_api_key(request, "read")
    rule = _rule(request)
    target = rule.deploy
    if not isinstance(target, ExtendDeploy):
        raise InvalidRequest(
            f"rule {rule.name!r} deploys to {target.provider}: diffs are for Extend steps",
            code="unsupported",
        )
    client = extend_client(request.app[PLATFORM_HTTP], request.app[SETTINGS])
    try:
        source, source_steps = await _source(client, target)
        latest = await get_version(client, target.workflow, "latest")
    except PlatformError as exc:
        raise ApiError(f"Extend answered: {exc}", code="platform_error", status=424) from None
    rows = versions.step_diff(source_steps, _steps(latest))
    return json_response(
        {
            "rule": rule.name,
            "source": source,
            "target": {**summary(latest), "workflow": target.workflow},
            "steps": rows,
        }
    )


async def _source(client: Any, target: ExtendDeploy) -> tuple[dict[str, Any], list[Any]]:
    if target.steps is not None:
        return {"workflow": None, "version": "rule steps"}, target.steps
    src = target.steps_from
    workflow, ref = (src.workflow, src.version) if src else (target.workflow, "draft")
    version = await get_version(client, workflow, ref)
    return {**summary(version), "workflow": workflow}, _steps(version)


def _steps(version: dict[str, Any]) -> list[Any]:
    steps = version.get("steps")
    return steps if isinstance(steps, list) else []


def add_version_routes(add: Callable[..., None]) -> None:
    from ingest import version_schemas as vs
    from ingest.schemas import RuleDeployAnswer

    add(
        "POST /v1/rules/{name}/rollback",
        rollback_rule,
        "rule-rollback",
        RuleDeployAnswer,
        status=202,
        body=vs.RollbackRequest,
        errors=(400, 404),
    )
    add("GET /v1/rules/{name}/diff", diff_rule, "rule-diff", vs.DiffView, errors=(400, 404, 424))

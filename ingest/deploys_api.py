"""The deploys API: list and read deploys, list rules, and deploy a rule by hand.

A manual deploy is claimed and queued exactly like a triggered one (same store, same job, same
audit); the request only enqueues, so it answers 202 and the deploy proceeds in the worker.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Any

import orjson
from aiohttp import web

from ingest.appkeys import REDIS, RULES, SETTINGS
from ingest.auth import require_api_key
from ingest.responses import json_response
from relay_core.deploys import query as deploy_query
from relay_core.deploys import store as deploys
from relay_core.deploys.rules import Rule
from relay_core.deploys.store import Subject
from relay_core.errors import InvalidRequest, NotFound
from relay_core.params import parse_limit

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
_SUBJECT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$")


async def list_deploys(request: web.Request) -> web.Response:
    """Deploys, newest first, by rule and status (`nextCursor` pages on)."""
    require_api_key(request, "read")
    query = request.query
    page = await deploy_query.list_deploys(
        request.app[REDIS],
        rule=query.get("rule") or None,
        status=query.get("status") or None,
        cursor=query.get("cursor") or None,
        limit=parse_limit(query.get("limit"), DEFAULT_LIMIT, MAX_LIMIT),
    )
    return json_response({"deploys": page.items, "nextCursor": page.next_cursor})


async def get_deploy(request: web.Request) -> web.Response:
    """One deploy with its audit: state, gate, facts, attempts and read back."""
    require_api_key(request, "read")
    did = request.match_info["deploy_id"]
    found = await deploys.get(request.app[REDIS], did)
    if found is None:
        raise NotFound(f"no deploy {did!r}")
    return json_response(found)


async def list_rules(request: web.Request) -> web.Response:
    """The deploy rules loaded from RELAY_RULES."""
    require_api_key(request, "read")
    return json_response({"rules": [rule_summary(r) for r in request.app[RULES]]})


def rule_summary(rule: Rule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "on": rule.on,
        "workflow": rule.workflow,
        "version": rule.version,
        "metadata": rule.metadata,
        "dryRun": rule.dry_run,
        "provider": rule.deploy.provider,
        "target": rule.deploy.workflow,
    }


async def deploy_rule(request: web.Request) -> web.Response:
    """POST /v1/rules/{name}/deploy: body `{"subject": "<run or batch id>"}` is optional."""
    require_api_key(request, "deploy")
    name = request.match_info["name"]
    rule = request.app[RULES].get(name)
    if rule is None:
        raise NotFound(f"no rule {name!r} is configured", code="unknown_rule")
    return await claim_answer(request, rule, Subject("manual", _subject(await request.read())))


async def claim_answer(
    request: web.Request, rule: Rule, subject: Subject, extra: dict[str, str] | None = None
) -> web.Response:
    """Claim a deploy a person asked for: 202 with it when new, 200 with the one that exists."""
    did, created = await deploys.claim(
        request.app[REDIS],
        rule.name,
        subject,
        rule.deploy.provider,
        rule.deploy.workflow,
        rule.dry_run,
        extra=extra,
        retention_ms=request.app[SETTINGS].retention.ms,
    )
    found = await deploys.get(request.app[REDIS], did)
    return json_response({"created": created, "deploy": found}, status=202 if created else 200)


def _subject(raw: bytes) -> str:
    body: Any = {}
    if raw.strip():
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise InvalidRequest("body must be JSON") from None
    if not isinstance(body, dict):
        raise InvalidRequest("body must be a JSON object")
    subject = body.get("subject")
    if subject is None:
        # No subject: every request is its own deploy.
        return f"m{int(time.time() * 1000)}-{secrets.token_hex(4)}"
    if not isinstance(subject, str) or not _SUBJECT.match(subject):
        raise InvalidRequest(
            "subject must be a run or batch id (letters, digits, _ . : -; at most 200)",
            code="invalid_subject",
        )
    return subject

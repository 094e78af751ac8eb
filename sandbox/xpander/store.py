"""xpander workflows: a draft you PATCH and a PUT that validates and deploys it (xpander's API
page "Deploy Workflow")."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from sandbox.clock import SimClock
from sandbox.config import XpanderWorkflowSeed
from sandbox.errors import ApiError
from sandbox.ids import IdFactory, iso_seconds

Json = dict[str, Any]
ORGANIZATION_ID = "00000000-0000-4000-8000-000000000001"
_TEXT_FIELDS = ("name", "description", "webhook_url", "icon", "model_name", "model_provider")

# The documented response defaults for fields the sandbox does not model.
_DEFAULTS: Json = {
    "unique_name": None,
    "origin_template": None,
    "environment_id": None,
    "deployment_type": "serverless",
    "created_by_prompt": None,
    "prompts": [],
    "deep_planning": False,
    "enforce_deep_planning": False,
    "connectivity_details": {},
    "icon": "🚀",
    "avatar": "male-avatar",
    "source_nodes": [],
    "access_scope": "personal",
    "instructions": {"role": [], "goal": [], "general": ""},
    "oas": {},
    "llm_settings": [],
    "knowledge_bases": [],
    "type": "orchestration",
    "is_ai_employee": False,
    "using_nemo": False,
    "deletable": True,
    "model_provider": "anthropic",
    "model_name": "claude-sonnet-4-6",
    "llm_reasoning_effort": "medium",
    "llm_api_base": None,
    "output_format": "markdown",
    "voice_id": None,
    "output_schema": {},
    "llm_credentials_key": None,
    "llm_credentials_key_type": "xpander",
    "llm_credentials": None,
    "llm_extra_headers": {},
    "expected_output": "",
    "on_prem_event_streaming": True,
    "prompts_caching_enabled": False,
    "is_supervised": False,
    "notification_settings": {},
    "task_level_strategies": None,
    "use_oidc_pre_auth": False,
    "pre_auth_audiences": [],
    "use_oidc_pre_auth_token_for_llm": False,
    "oidc_pre_auth_token_llm_audience": None,
    "oidc_pre_auth_token_mcp_audience": None,
}


@dataclass(slots=True)
class XpWorkflow:
    id: str
    name: str
    created_at: float
    description: str = ""
    webhook_url: str = ""
    version: int = 1
    status: str = "DRAFT"
    is_latest: bool = False
    has_pending_changes: bool = True
    orchestration_nodes: list[Json] = field(default_factory=list)
    extra: Json = field(default_factory=dict)

    def to_json(self) -> Json:
        body: Json = {**_DEFAULTS, **self.extra}
        body.update(
            id=self.id,
            name=self.name,
            organization_id=ORGANIZATION_ID,
            webhook_url=self.webhook_url or f"https://webhook.xpander.ai/{self.id}",
            description=self.description,
            version=self.version,
            status=self.status,
            is_latest=self.is_latest,
            has_pending_changes=self.has_pending_changes,
            orchestration_nodes=self.orchestration_nodes,
            created_by="sandbox",
            created_at=iso_seconds(self.created_at),
        )
        return body


def _issue(loc: list[str | int], msg: str, kind: str) -> Json:
    return {"loc": loc, "msg": msg, "type": kind}


def unprocessable(issues: list[Json]) -> ApiError:
    return ApiError(422, "validation error", detail=issues)


def graph_issues(nodes: list[Json]) -> list[Json]:
    """Why a node graph cannot be deployed; empty when it can."""
    if not nodes:
        return [_issue(["orchestration_nodes"], "workflow has no nodes to deploy", "value_error")]
    ids = [node.get("id") for node in nodes]
    issues = [
        _issue(["orchestration_nodes", i, "id"], "node id must be a unique string", "value_error")
        for i, node_id in enumerate(ids)
        if not isinstance(node_id, str) or ids.count(node_id) > 1
    ]
    for i, node in enumerate(nodes):
        for target in node.get("next_node_ids") or []:
            if target not in ids:
                msg = f"node {node.get('id')!r} points to unknown node {target!r}"
                issues.append(
                    _issue(["orchestration_nodes", i, "next_node_ids"], msg, "value_error")
                )
    return issues


def check_patch(body: Any) -> Json:
    if not isinstance(body, dict):
        raise unprocessable([_issue(["body"], "Input should be a valid dictionary", "dict_type")])
    issues = [
        _issue(["body", key], "Input should be a valid string", "string_type")
        for key in _TEXT_FIELDS
        if key in body and not isinstance(body[key], str)
    ]
    nodes = body.get("orchestration_nodes")
    if nodes is not None and not (
        isinstance(nodes, list) and all(isinstance(n, dict) for n in nodes)
    ):
        issues.append(
            _issue(["body", "orchestration_nodes"], "Input should be a valid list", "list_type")
        )
    if issues:
        raise unprocessable(issues)
    return copy.deepcopy(body)


class XpanderStore:
    def __init__(self, ids: IdFactory, clock: SimClock) -> None:
        self._ids = ids
        self._clock = clock
        self.workflows: dict[str, XpWorkflow] = {}

    def seed(self, seed: XpanderWorkflowSeed) -> XpWorkflow:
        workflow = XpWorkflow(seed.id, seed.name, self._clock.now(), webhook_url=seed.webhook_url)
        workflow.orchestration_nodes = copy.deepcopy(seed.orchestration_nodes)
        workflow.version = seed.version
        workflow.status = seed.status
        workflow.has_pending_changes = seed.status == "DRAFT"
        workflow.is_latest = seed.status == "ACTIVE"
        self.workflows[seed.id] = workflow
        return workflow

    def create(self, body: Any) -> XpWorkflow:
        checked = check_patch(body)
        if not isinstance(checked.get("name"), str):
            raise unprocessable([_issue(["body", "name"], "Field required", "missing")])
        workflow = XpWorkflow(self._ids.uuid(), checked["name"], self._clock.now())
        self._apply(workflow, checked)
        self.workflows[workflow.id] = workflow
        return workflow

    def get(self, workflow_id: str) -> XpWorkflow:
        workflow = self.workflows.get(workflow_id)
        if workflow is None:
            raise ApiError(404, "Workflow not found")
        return workflow

    def patch(self, workflow: XpWorkflow, body: Any) -> None:
        self._apply(workflow, check_patch(body))
        workflow.has_pending_changes = True

    def deploy(self, workflow: XpWorkflow) -> None:
        issues = graph_issues(workflow.orchestration_nodes)
        if issues:
            raise unprocessable(issues)
        workflow.version += 1
        workflow.status = "ACTIVE"
        workflow.is_latest = True
        workflow.has_pending_changes = False

    @staticmethod
    def _apply(workflow: XpWorkflow, body: Json) -> None:
        for key, value in body.items():
            if key in ("name", "description", "webhook_url"):
                setattr(workflow, key, value)
            elif key == "orchestration_nodes":
                workflow.orchestration_nodes = value
            elif key not in ("id", "version", "status", "has_pending_changes", "is_latest"):
                workflow.extra[key] = value

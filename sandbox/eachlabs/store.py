"""Eachlabs workflows and their versions (Eachlabs' API page "Create or update workflow
version")."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from sandbox.clock import SimClock
from sandbox.config import EachlabsWorkflowSeed
from sandbox.errors import ApiError
from sandbox.ids import iso_seconds

Json = dict[str, Any]
_FLAGS = ("locked", "production", "allowed_to_share")


@dataclass(slots=True)
class EachVersion:
    version_id: str
    definition: Json
    created_at: float
    updated_at: float
    locked: bool = False
    production: bool = False
    allowed_to_share: bool = False
    trigger_count: int = 0
    status: str = "active"


@dataclass(slots=True)
class EachWorkflow:
    id: str
    name: str
    slug: str
    description: str
    created_at: float
    updated_at: float
    versions: dict[str, EachVersion] = field(default_factory=dict)
    latest_version_id: str | None = None


def version_json(w: EachWorkflow, v: EachVersion, *, detail: bool = True) -> Json:
    body: Json = {
        "version_id": v.version_id,
        "slug": w.slug,
        "locked": v.locked,
        "production": v.production,
        "allowed_to_share": v.allowed_to_share,
        "trigger_count": v.trigger_count,
        "created_at": iso_seconds(v.created_at),
        "updated_at": iso_seconds(v.updated_at),
        "status": v.status,
    }
    if detail:
        body["definition"] = v.definition
    return body


def workflow_json(w: EachWorkflow) -> Json:
    return {
        "id": w.id,
        "name": w.name,
        "slug": w.slug,
        "description": w.description,
        "latest_version_id": w.latest_version_id,
        "versions": [version_json(w, v, detail=False) for v in w.versions.values()],
        "created_at": iso_seconds(w.created_at),
        "updated_at": iso_seconds(w.updated_at),
    }


def check_definition(definition: Any) -> Json:
    if not isinstance(definition, dict):
        raise ApiError(400, "definition must be an object")
    steps = definition.get("steps", [])
    if not isinstance(steps, list):
        raise ApiError(400, "definition.steps must be an array")
    for step in steps:
        if not isinstance(step, dict) or not isinstance(step.get("step_id"), str):
            raise ApiError(400, "each step needs a string step_id")
        if not isinstance(step.get("type"), str):
            raise ApiError(400, f"step {step['step_id']!r} needs a string type")
    return copy.deepcopy(definition)


def check_put_body(body: Any, path_version_id: str) -> Json:
    if not isinstance(body, dict):
        raise ApiError(400, "request body must be a JSON object")
    version_id = body.get("version_id")
    if not isinstance(version_id, str) or not version_id:
        raise ApiError(400, "version_id is required")
    if version_id != path_version_id:
        raise ApiError(400, "version_id does not match the version in the path")
    for flag in _FLAGS:
        if flag in body and not isinstance(body[flag], bool):
            raise ApiError(400, f"{flag} must be a boolean")
    checked: Json = dict(body)
    if "definition" in body:
        checked["definition"] = check_definition(body["definition"])
    return checked


class EachlabsStore:
    def __init__(self, clock: SimClock) -> None:
        self._clock = clock
        self.workflows: dict[str, EachWorkflow] = {}
        self._counter = 0

    def seed(self, seed: EachlabsWorkflowSeed) -> EachWorkflow:
        workflow = self.create(seed.name, seed.slug, "", workflow_id=seed.id)
        for v in seed.versions:
            body = {"version_id": v.version_id, **v.model_dump(exclude={"version_id"})}
            self.put_version(workflow, v.version_id, body)
        return workflow

    def create(
        self, name: str, slug: str | None, description: str, workflow_id: str | None = None
    ) -> EachWorkflow:
        self._counter += 1
        wid = workflow_id or f"wf_{self._counter:06d}"
        now = self._clock.now()
        chosen_slug = slug or "-".join(name.lower().split()) or wid
        workflow = EachWorkflow(wid, name, chosen_slug, description, now, now)
        self.workflows[wid] = workflow
        return workflow

    def get(self, workflow_id: str) -> EachWorkflow:
        workflow = self.workflows.get(workflow_id)
        if workflow is None:
            raise ApiError(404, "workflow not found")
        return workflow

    def put_version(self, workflow: EachWorkflow, version_id: str, body: Json) -> EachVersion:
        """Create (definition required) or patch a version; either way it becomes the latest."""
        checked = check_put_body(body, version_id)
        now = self._clock.now()
        version = workflow.versions.get(version_id)
        if version is None:
            if "definition" not in checked:
                raise ApiError(400, "definition is required when creating a version")
            version = EachVersion(version_id, checked["definition"], now, now)
            workflow.versions[version_id] = version
        elif version.locked:
            raise ApiError(403, "version is locked")
        elif "definition" in checked:
            version.definition = checked["definition"]
        for flag in _FLAGS:
            if flag in checked:
                setattr(version, flag, checked[flag])
        version.updated_at = now
        workflow.updated_at = now
        workflow.latest_version_id = version_id
        return version

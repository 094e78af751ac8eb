"""Extend workflows and versions: create, update the draft, deploy, resolve a version reference."""

from __future__ import annotations

import copy
from typing import Any

from sandbox.clock import SimClock
from sandbox.config import ExtendWorkflowSeed
from sandbox.errors import ApiError, bad_request
from sandbox.extend.models import (
    CONFIGURABLE_STEP_TYPES,
    DEFAULT_STEPS,
    STEP_TYPES,
    Version,
    Workflow,
)
from sandbox.ids import IdFactory

Steps = list[dict[str, Any]]


def validate_steps(raw: Any) -> Steps:
    """The step graph checks Extend applies on create and update (400 on failure)."""
    if not isinstance(raw, list) or not raw:
        raise bad_request("steps must be a non-empty array")
    names: set[str] = set()
    for step in raw:
        if not isinstance(step, dict) or not isinstance(step.get("name"), str):
            raise bad_request("each step must be an object with a string name")
        if step.get("type") not in STEP_TYPES:
            raise bad_request(f"step {step['name']!r} has an unknown type {step.get('type')!r}")
        if step["name"] in names:
            raise bad_request(f"step names must be unique: {step['name']!r}")
        names.add(step["name"])
    for step in raw:
        for target in _next_targets(step):
            if target not in names:
                raise bad_request(f"step {step['name']!r} routes to unknown step {target!r}")
    return copy.deepcopy(raw)


def _next_targets(step: dict[str, Any]) -> list[str]:
    nxt = step.get("next") or []
    if not isinstance(nxt, list):
        raise bad_request(f"step {step['name']!r}: next must be an array")
    targets = [entry.get("step") for entry in nxt if isinstance(entry, dict)]
    if len(targets) != len(nxt) or not all(isinstance(t, str) for t in targets):
        raise bad_request(f"step {step['name']!r}: each next entry needs a step name")
    return [t for t in targets if isinstance(t, str)]


def require_configs(steps: Steps) -> None:
    for step in steps:
        if step["type"] in CONFIGURABLE_STEP_TYPES and not isinstance(step.get("config"), dict):
            raise bad_request(
                f"step {step['name']!r} of type {step['type']} must include config to be deployed"
            )


class Catalog:
    def __init__(self, ids: IdFactory, clock: SimClock) -> None:
        self._ids = ids
        self._clock = clock
        self.workflows: dict[str, Workflow] = {}

    def seed(self, seed: ExtendWorkflowSeed) -> Workflow:
        steps = validate_steps(seed.steps) if seed.steps else copy.deepcopy(DEFAULT_STEPS)
        workflow = self._new(seed.id, seed.name, steps)
        workflow.seeded = True
        for version in seed.versions:
            self.deploy(workflow, version.name, version.steps)
        return workflow

    def create(self, name: str, steps: Any) -> Workflow:
        checked = validate_steps(steps) if steps is not None else copy.deepcopy(DEFAULT_STEPS)
        return self._new(self._ids.make("workflow_"), name, checked)

    def _new(self, workflow_id: str, name: str, steps: Steps) -> Workflow:
        now = self._clock.now()
        draft = Version(self._ids.make("workflow_version_"), workflow_id, "draft", None, steps, now)
        workflow = Workflow(workflow_id, name, now, now, draft)
        self.workflows[workflow_id] = workflow
        return workflow

    def get(self, workflow_id: str) -> Workflow:
        workflow = self.workflows.get(workflow_id)
        if workflow is None:
            raise ApiError(404, f"Workflow {workflow_id} not found")
        return workflow

    def update(self, workflow: Workflow, name: Any, steps: Any) -> None:
        if name is not None and not isinstance(name, str):
            raise bad_request("name must be a string")
        checked = validate_steps(steps) if steps is not None else None
        if name is not None:
            workflow.name = name
        if checked is not None:
            workflow.draft.steps = checked
        workflow.updated_at = self._clock.now()

    def deploy(self, workflow: Workflow, name: Any, steps: Any) -> Version:
        """Publish ``steps`` (or the draft's) as the next version number; the draft is untouched."""
        if name is not None and not isinstance(name, str):
            raise bad_request("name must be a string")
        chosen = validate_steps(steps) if steps is not None else copy.deepcopy(workflow.draft.steps)
        require_configs(chosen)
        now = self._clock.now()
        number = str(len(workflow.published) + 1)
        version = Version(
            self._ids.make("workflow_version_"), workflow.id, number, name, chosen, now
        )
        workflow.published.append(version)
        workflow.updated_at = now
        return version

    def resolve(self, workflow: Workflow, ref: str | None) -> Version | None:
        """``draft``, ``latest``, a number, a version id, or None (latest published, else draft)."""
        if ref is None or ref == "latest":
            return workflow.latest()
        if ref == "draft":
            return workflow.draft
        if ref.isdigit():
            index = int(ref) - 1
            return workflow.published[index] if 0 <= index < len(workflow.published) else None
        if ref == workflow.draft.id:
            return workflow.draft
        return next((v for v in workflow.published if v.id == ref), None)

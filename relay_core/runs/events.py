"""Webhook envelopes and the run facts workflow-relay keeps from them (both API dialects)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from relay_core.errors import InvalidEvent
from relay_core.runs.status import EVENT_STATUS, RANK, RunStatus

STEP_RUN_EVENT = "workflow_run.step_run.processed"
SIGNED_DATA_URL = "signed_data_url"


@dataclass(slots=True, frozen=True)
class Envelope:
    event_id: str
    event_type: str
    payload: dict[str, Any]


@dataclass(slots=True)
class RunUpdate:
    """What one event says about one run; `status` None means "no status change" (a step run)."""

    run_id: str
    status: str | None
    workflow_id: str | None = None
    workflow_version: str | None = None
    batch_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    reviewed: bool = False
    reviewed_at: str | None = None
    reviewed_by: str | None = None
    rejection_note: str | None = None
    failure_reason: str | None = None
    failure_message: str | None = None
    last_step: str | None = None


def parse_envelope(body: bytes) -> Envelope:
    """Parse a verified body; raise InvalidEvent saying what is wrong with it."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidEvent("body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidEvent("body is not a JSON object")
    event_id, event_type, payload = data.get("eventId"), data.get("eventType"), data.get("payload")
    if not isinstance(event_id, str) or not event_id or len(event_id) > 200:
        raise InvalidEvent("eventId must be a non-empty string of at most 200 characters")
    if not isinstance(event_type, str) or not event_type:
        raise InvalidEvent("eventType must be a non-empty string")
    if not isinstance(payload, dict):
        raise InvalidEvent("payload must be a JSON object")
    return Envelope(event_id, event_type, payload)


def is_signed_data_url(payload: dict[str, Any]) -> bool:
    return payload.get("object") == SIGNED_DATA_URL and isinstance(payload.get("data"), str)


def run_update(envelope: Envelope) -> RunUpdate | None:
    """The run facts in a `workflow_run.*` event, or None when the event is not about a run."""
    if envelope.event_type == STEP_RUN_EVENT:
        return _step_run_update(envelope.payload)
    if not envelope.event_type.startswith("workflow_run."):
        return None
    return run_from_payload(envelope.payload, EVENT_STATUS.get(envelope.event_type))


def run_from_payload(run: dict[str, Any], fallback: RunStatus | None = None) -> RunUpdate | None:
    """Normalise a WorkflowRun of either dialect (2026-02-09 or 2025-04-21)."""
    run_id = run.get("id")
    if not isinstance(run_id, str) or not run_id:
        return None
    status = run.get("status")
    if not isinstance(status, str) or status not in RANK:
        status = fallback.value if fallback else None
    workflow = _dict(run.get("workflow"))
    # 2026-02-09 names the version in workflowVersion; 2025-04-21 in workflow.version.
    version = _dict(run.get("workflowVersion")).get("version", workflow.get("version"))
    reviewer = run.get("reviewedByUser", run.get("reviewedBy"))
    return RunUpdate(
        run_id=run_id,
        status=status,
        workflow_id=_str(workflow.get("id")),
        workflow_version=_str(version),
        batch_id=_str(run.get("batchId")),
        metadata=_dict(run.get("metadata")),
        reviewed=run.get("reviewed") is True,
        reviewed_at=_str(run.get("reviewedAt")),
        reviewed_by=_str(reviewer)
        if not isinstance(reviewer, dict)
        else _str(reviewer.get("email")),
        rejection_note=_str(run.get("rejectionNote")),
        failure_reason=_str(run.get("failureReason")),
        failure_message=_str(run.get("failureMessage")),
    )


def _step_run_update(step: dict[str, Any]) -> RunUpdate | None:
    run_id = step.get("workflowRunId")
    if not isinstance(run_id, str) or not run_id:
        return None
    name = _dict(step.get("step")).get("name") or step.get("stepType") or step.get("id")
    return RunUpdate(run_id=run_id, status=None, last_step=_str(name))


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: object) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)

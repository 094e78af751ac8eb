"""JSON shapes of Extend objects, per API dialect."""

from __future__ import annotations

from typing import Any

from sandbox.extend.models import Dialect, Run, RunFile, Status, Version, Workflow
from sandbox.ids import iso

Json = dict[str, Any]

_SUMMARY_2026 = (
    *("object", "id", "status", "workflow", "workflowVersion", "dashboardUrl"),
    *("reviewedByUser", "reviewedAt", "initialRunAt", "startTime", "endTime"),
    *("batchId", "rejectionNote", "files", "usage"),
)
_FINISHED = frozenset({Status.PROCESSED, Status.FAILED, Status.REJECTED, Status.CANCELLED})


def file_json(f: RunFile, updated_at: float) -> Json:
    body: Json = {
        "object": "file",
        "id": f.id,
        "name": f.name,
        "metadata": {},
        "createdAt": iso(f.created_at),
        "updatedAt": iso(updated_at),
    }
    if f.type is not None:
        body["type"] = f.type
    return body


def version_summary(v: Version) -> Json:
    return {
        "object": "workflow_version",
        "id": v.id,
        "version": v.number,
        "name": v.name,
        "createdAt": iso(v.created_at),
    }


def version_json(v: Version) -> Json:
    return {**version_summary(v), "steps": v.steps}


def workflow_summary(w: Workflow) -> Json:
    return {
        "object": "workflow",
        "id": w.id,
        "name": w.name,
        "createdAt": iso(w.created_at),
        "updatedAt": iso(w.updated_at),
    }


def workflow_json(w: Workflow) -> Json:
    return {**workflow_summary(w), "draftVersion": version_json(w.draft)}


def _files(run: Run) -> list[Json]:
    return [file_json(f, run.created_at) for f in run.files]


def _usage(run: Run) -> Json | None:
    if run.status not in _FINISHED or run.start_time is None:
        return None
    credits = float(len(run.files))
    return {"credits": credits, "totalCredits": credits}


def run_2026(run: Run, dashboard: str) -> Json:
    body: Json = {
        "object": "workflow_run",
        "id": run.id,
        "workflow": workflow_summary(run.workflow),
        "workflowVersion": version_summary(run.version),
        "dashboardUrl": f"{dashboard}/workflows/{run.id}",
        "status": run.status.value,
        "metadata": run.metadata,
        "batchId": run.batch_id,
        "files": _files(run),
        "failureReason": run.failure_reason,
        "failureMessage": run.failure_message,
        "initialRunAt": iso(run.initial_run_at),
        "reviewed": run.reviewed,
        "reviewedByUser": run.reviewed_by,
        "reviewedAt": iso(run.reviewed_at),
        "rejectionNote": run.rejection_note,
        "startTime": iso(run.start_time),
        "endTime": iso(run.end_time),
        "stepRuns": run.step_runs,
    }
    usage = _usage(run)
    if usage is not None:
        body["usage"] = usage
    return body


def run_summary_2026(run: Run, dashboard: str) -> Json:
    full = run_2026(run, dashboard)
    body = {k: full[k] for k in _SUMMARY_2026 if k in full}
    body["createdAt"] = iso(run.created_at)
    body["updatedAt"] = iso(run.updated_at)
    return body


def run_2025(run: Run, dashboard: str) -> Json:
    return {
        "object": "workflow_run",
        "id": run.id,
        "name": run.name,
        "url": f"{dashboard}/workflows/{run.workflow.id}?workflowRunId={run.id}",
        "status": run.status.value,
        "metadata": run.metadata,
        "batchId": run.batch_id,
        "files": _files(run),
        "failureReason": run.failure_reason,
        "failureMessage": run.failure_message,
        "initialRunAt": iso(run.initial_run_at),
        "reviewed": run.reviewed,
        "reviewedBy": run.reviewed_by,
        "reviewedAt": iso(run.reviewed_at),
        "rejectionNote": run.rejection_note,
        "startTime": iso(run.start_time),
        "endTime": iso(run.end_time),
        "outputs": run.outputs,
        "stepRuns": run.step_runs,
        "workflow": {
            "object": "workflow",
            "id": run.workflow.id,
            "version": run.version.number,
            "name": run.workflow.name,
        },
    }


def run_summary_2025(run: Run, dashboard: str) -> Json:
    # UNCONFIRMED shape: the public 2025-04-21 pages show no list example; this follows the
    # summary the SDKs of that era modelled.
    return {
        "object": "workflow_run",
        "id": run.id,
        "status": run.status.value,
        "workflowId": run.workflow.id,
        "workflowName": run.workflow.name,
        "workflowVersionId": run.version.id,
        "batchId": run.batch_id,
        "initialRunAt": iso(run.initial_run_at),
        "reviewedByUser": run.reviewed_by,
        "reviewedAt": iso(run.reviewed_at),
        "startTime": iso(run.start_time),
        "endTime": iso(run.end_time),
        "createdAt": iso(run.created_at),
        "updatedAt": iso(run.updated_at),
    }


def run_json(run: Run, dialect: Dialect, dashboard: str) -> Json:
    return run_2025(run, dashboard) if dialect is Dialect.V2025 else run_2026(run, dashboard)


def run_summary(run: Run, dialect: Dialect, dashboard: str) -> Json:
    if dialect is Dialect.V2025:
        return run_summary_2025(run, dashboard)
    return run_summary_2026(run, dashboard)

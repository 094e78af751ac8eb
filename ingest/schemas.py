"""Pydantic models of the HTTP API's bodies: the OpenAPI document is generated from these.

Field names are the wire names (camelCase). The run and deploy views are built as dicts by
relay_core (runstore.run_view, deploys.view); these models are their contract, and the
schemathesis test checks every answer against them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorDetail(Model):
    code: str = Field(examples=["not_found"])
    message: str


class ErrorBody(Model):
    """Every non-2xx answer."""

    error: ErrorDetail


class WebhookEnvelope(Model):
    """What the platform posts; signed with x-extend-request-timestamp / -signature."""

    eventId: str = Field(min_length=1, max_length=200)
    eventType: str = Field(min_length=1, examples=["workflow_run.completed"])
    payload: dict[str, Any]


class WebhookAnswer(Model):
    status: Literal["queued", "duplicate"]
    eventId: str


class HistoryEntry(Model):
    status: str
    eventId: str
    at: str


class RunView(Model):
    runId: str
    status: str | None
    workflowId: str | None
    workflowVersion: str | None
    batchId: str | None
    relayBatchId: str | None
    fileIndex: int | None
    metadata: dict[str, Any]
    reviewed: bool
    reviewedAt: str | None
    reviewCompleted: bool
    rejectionNote: str | None
    failureReason: str | None
    failureMessage: str | None
    lastStep: str | None
    firstSeenAt: str | None
    updatedAt: str | None
    history: list[HistoryEntry]


class ReviewList(Model):
    """Runs now in NEEDS_REVIEW, oldest first."""

    runs: list[RunView]


class DeployTrigger(Model):
    type: str | None
    subject: str | None


class DeployVersion(Model):
    id: str | None
    number: str | None
    name: str | None


class DeployError(Model):
    message: str
    status: int | None


class PlatformEvent(Model):
    eventId: str
    at: str | None
    versionId: str | None


class DeployView(Model):
    id: str | None
    rule: str | None
    trigger: DeployTrigger
    provider: str | None
    target: str | None
    status: str | None
    dryRun: bool
    gate: str | None
    reason: str | None
    version: DeployVersion
    error: DeployError | None
    createdAt: str | None
    updatedAt: str | None
    finishedAt: str | None
    facts: dict[str, Any] | None
    request: Any
    attempts: list[dict[str, Any]]
    platformEvent: PlatformEvent | None
    # Version lifecycle: the read back, a rollback's target, the evaluation.
    readBack: dict[str, Any] | None = None
    verified: bool | None = None
    superseded: dict[str, Any] | None = None
    rollbackTo: str | None = None
    evalId: str | None = None


class DeployList(Model):
    deploys: list[DeployView]
    nextCursor: str | None


class DeployListQuery(Model):
    rule: str | None = None
    status: str | None = None
    limit: int | None = Field(None, ge=1, le=200)
    cursor: str | None = None


class RuleSummary(Model):
    name: str
    on: str
    workflow: str
    version: str | None
    metadata: dict[str, Any]
    dryRun: bool
    provider: str
    target: str


class RuleList(Model):
    rules: list[RuleSummary]


class RuleDeployRequest(Model):
    subject: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$")


class RuleDeployAnswer(Model):
    created: bool
    deploy: DeployView


class ReviewQuery(Model):
    limit: int | None = Field(None, ge=1, le=200)


class Status(Model):
    status: str


class DeadLetterRedrive(Model):
    job: str | None
    args: list[Any]


class DeadLetterView(Model):
    """Work that exhausted its tries, with what a redrive needs."""

    id: str | None
    kind: str | None
    ref: str | None
    error: str | None
    tries: int
    firstFailedAt: str | None
    lastFailedAt: str | None
    needs: str | None
    redrive: DeadLetterRedrive


class DeadLetterList(Model):
    deadLetters: list[DeadLetterView]
    nextCursor: str | None


class DeadLetterQuery(Model):
    kind: Literal["event_group", "chunk", "batch_completion", "deploy"] | None = None
    limit: int | None = Field(None, ge=1, le=200)
    cursor: str | None = Field(None, pattern=r"^[0-9]{1,9}$")


class RedriveQuery(Model):
    kind: Literal["event_group", "chunk", "batch_completion", "deploy"]


class RedriveAnswer(Model):
    redriven: int
    ids: list[str]


class PurgeAnswer(Model):
    purged: str


class LoggedEvent(Model):
    eventId: str
    eventType: str
    runId: str | None
    loggedAt: str


class EventList(Model):
    """Logged webhook events, oldest first."""

    events: list[LoggedEvent]
    nextCursor: str | None


class EventQuery(Model):
    since: str | None = Field(None, examples=["2h", "2026-11-29T10:00:00Z"])
    type: str | None = None
    run: str | None = None
    limit: int | None = Field(None, ge=1, le=1000)
    cursor: str | None = Field(None, pattern=r"^[0-9]{1,9}$")


class ReplayRequest(Model):
    since: str | None = Field(None, examples=["2h"])
    type: str | None = None
    run: str | None = None


class ReplayAnswer(Model):
    events: int
    groups: int

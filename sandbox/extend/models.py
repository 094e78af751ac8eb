"""Extend state: workflows, their versions, and workflow runs."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Dialect(enum.StrEnum):
    V2025 = "2025-04-21"
    V2026 = "2026-02-09"


class Status(enum.StrEnum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    NEEDS_REVIEW = "NEEDS_REVIEW"
    REJECTED = "REJECTED"
    PROCESSED = "PROCESSED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    CANCELLING = "CANCELLING"


CANCELLABLE = frozenset({Status.PENDING, Status.PROCESSING})

STEP_TYPES = frozenset(
    {
        "TRIGGER",
        "PARSE",
        "EXTRACT",
        "CLASSIFY",
        "SPLIT",
        "MERGE_EXTRACT",
        "CONDITIONAL",
        "CONDITIONAL_EXTRACT",
        "EXTERNAL_DATA_VALIDATION",
        "WEBHOOK_RESPONSE",
        "RULE_VALIDATION",
        "HUMAN_REVIEW",
        "COLLECT",
        "FILE_CONVERSION",
        # Present in the SDK's step union though not in the public step list.
        "VALIDATION",
        "ROUTER",
    }
)
CONFIGURABLE_STEP_TYPES = frozenset(
    {
        "EXTRACT",
        "CLASSIFY",
        "SPLIT",
        "CONDITIONAL_EXTRACT",
        "RULE_VALIDATION",
        "EXTERNAL_DATA_VALIDATION",
    }
)
# Step types the SDK can parse as a StepRun; only these produce step runs.
RUNNABLE_STEP_TYPES = frozenset(
    {
        "PARSE",
        "EXTRACT",
        "CLASSIFY",
        "SPLIT",
        "MERGE_EXTRACT",
        "CONDITIONAL_EXTRACT",
        "RULE_VALIDATION",
        "EXTERNAL_DATA_VALIDATION",
        "VALIDATION",
        "ROUTER",
    }
)
DEFAULT_STEPS: list[dict[str, Any]] = [
    {"name": "trigger", "type": "TRIGGER", "next": [{"step": "parse"}]},
    {"name": "parse", "type": "PARSE"},
]


@dataclass(slots=True)
class Version:
    id: str
    workflow_id: str
    number: str  # "1", "2", ... or "draft"
    name: str | None
    steps: list[dict[str, Any]]
    created_at: float

    def has_step(self, step_type: str) -> bool:
        return any(step.get("type") == step_type for step in self.steps)


@dataclass(slots=True)
class Workflow:
    id: str
    name: str
    created_at: float
    updated_at: float
    draft: Version
    published: list[Version] = field(default_factory=list)
    seeded: bool = False

    def latest(self) -> Version:
        return self.published[-1] if self.published else self.draft


@dataclass(slots=True)
class RunFile:
    id: str
    name: str
    type: str | None
    created_at: float
    url: str | None = None
    file_id: str | None = None
    text: str | None = None
    content: str | None = None  # an uploaded text file's content (values are derived from it)


@dataclass(slots=True)
class Run:
    seq: int
    id: str
    workflow: Workflow
    version: Version
    dialect: Dialect
    status: Status
    files: list[RunFile]
    metadata: dict[str, Any]
    created_at: float
    priority: int
    name: str | None = None
    batch_id: str | None = None
    useq: int = 0
    updated_at: float = 0.0
    initial_run_at: float | None = None
    start_time: float | None = None
    end_time: float | None = None
    failure_reason: str | None = None
    failure_message: str | None = None
    reviewed: bool = False
    reviewed_by: str | None = None
    reviewed_at: float | None = None
    rejection_note: str | None = None
    deleted: bool = False
    step_runs: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)  # 2025-04-21 processor runs
    fate: str = "PROCESSED"  # the outcome drawn at creation (see lifecycle.Fate)
    # Bumped whenever pending transitions must be forgotten (cancel, manual review).
    generation: int = 0


@dataclass(slots=True)
class UploadedFile:
    """A file made by POST /files/upload; `text` is kept for small text files only."""

    id: str
    name: str
    type: str | None
    size: int
    created_at: float
    text: str | None = None

"""Run statuses and the only direction they may move."""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    NEEDS_REVIEW = "NEEDS_REVIEW"
    CANCELLING = "CANCELLING"
    PROCESSED = "PROCESSED"
    REJECTED = "REJECTED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


TERMINAL = frozenset(
    {RunStatus.PROCESSED, RunStatus.REJECTED, RunStatus.FAILED, RunStatus.CANCELLED}
)
# Terminal statuses share the top rank: the first terminal status a run reaches is final.
RANK: dict[str, int] = {
    RunStatus.PENDING: 0,
    RunStatus.PROCESSING: 1,
    RunStatus.NEEDS_REVIEW: 2,
    RunStatus.CANCELLING: 3,
    RunStatus.PROCESSED: 4,
    RunStatus.REJECTED: 4,
    RunStatus.FAILED: 4,
    RunStatus.CANCELLED: 4,
}
# The statuses a batch counts (CANCELLING is shown as PROCESSING would hide a cancel in flight).
BATCH_COUNTED = (
    "PENDING",
    "PROCESSING",
    "NEEDS_REVIEW",
    "PROCESSED",
    "FAILED",
    "REJECTED",
    "CANCELLED",
)
EVENT_STATUS: dict[str, RunStatus] = {
    "workflow_run.completed": RunStatus.PROCESSED,
    "workflow_run.failed": RunStatus.FAILED,
    "workflow_run.needs_review": RunStatus.NEEDS_REVIEW,
    "workflow_run.rejected": RunStatus.REJECTED,
    "workflow_run.cancelled": RunStatus.CANCELLED,
}
# One letter per status in a run's history: the apply script writes them (relay_core.redis
# scripts gives it this table) and relay_core.runs.store reads them back.
HISTORY_CODES = {
    "P": "PENDING",
    "R": "PROCESSING",
    "N": "NEEDS_REVIEW",
    "L": "CANCELLING",
    "D": "PROCESSED",
    "J": "REJECTED",
    "F": "FAILED",
    "C": "CANCELLED",
}

"""A rule's gates, evaluated on the subject's state in Redis when its deploy runs."""

from __future__ import annotations

from dataclasses import dataclass

from relay_core.deploys.rules import Rule

FAILURE_STATUSES = ("FAILED", "REJECTED", "CANCELLED")


@dataclass(slots=True, frozen=True)
class GateFailure:
    gate: str
    reason: str


def batch_gates(rule: Rule, batch: dict[str, str]) -> GateFailure | None:
    """max_failure_rate, min_processed and require_reviews_approved on a finished batch."""
    if batch.get("state") == "cancelled":
        # A cancelled batch did not validate anything, whatever its counters say.
        return GateFailure("batch_state", "the batch was cancelled")
    files = _int(batch, "files")
    processed = _int(batch, "c:PROCESSED")
    failures = sum(_int(batch, "c:" + s) for s in FAILURE_STATUSES)
    rate = failures / files if files else 0.0
    if rule.max_failure_rate is not None and rate > rule.max_failure_rate:
        return GateFailure(
            "max_failure_rate",
            f"failure rate {rate:.4g} ({failures} of {files} files) > {rule.max_failure_rate:g}",
        )
    if rule.min_processed is not None and processed < rule.min_processed:
        return GateFailure("min_processed", f"{processed} PROCESSED < {rule.min_processed}")
    rejected = _int(batch, "c:REJECTED")
    if rule.require_reviews_approved and rejected:
        return GateFailure("require_reviews_approved", f"{rejected} run(s) REJECTED in review")
    return None


def run_gates(rule: Rule, run_status: str | None) -> GateFailure | None:
    """On one run only require_reviews_approved applies: the review must end PROCESSED."""
    if rule.require_reviews_approved and run_status != "PROCESSED":
        return GateFailure("require_reviews_approved", f"the run ended {run_status}")
    return None


def _int(h: dict[str, str], name: str) -> int:
    try:
        return int(h.get(name) or 0)
    except ValueError:
        return 0

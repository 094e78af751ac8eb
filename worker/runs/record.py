"""Apply runs the worker learned from the platform (answers, looks, polls) like events.

They go through the same RunStore.apply_many as webhook events, with synthetic event ids, so a
run's status and its batch's counters move exactly once whichever source reports it first.
"""

from __future__ import annotations

from typing import Any

from relay_core.batches.metadata import META_FILE
from relay_core.redis import queue
from relay_core.runs.events import RunUpdate, run_from_payload
from relay_core.runs.status import EVENT_STATUS
from worker.context import WorkerContext
from worker.deploys.triggers import fire_run_triggers

# The event a platform would have sent for each status (deploy triggers match on it).
_EVENT_OF = {status.value: event for event, status in EVENT_STATUS.items()}


def run_update(run: dict[str, Any], file_index: int | None = None) -> RunUpdate | None:
    """The tracked facts of a WorkflowRun; `file_index` names its file when metadata cannot."""
    update = run_from_payload(run)
    if update is None or update.status is None:
        return None
    if file_index is not None:
        update.metadata = {**update.metadata, META_FILE: file_index}
    return update


async def record(wc: WorkerContext, source: str, updates: list[RunUpdate]) -> int:
    """Apply `updates` and fire the deploy triggers they meet; return how many changed a run."""
    if not updates:
        return 0
    items = [(u, f"relay:{source}:{u.run_id}:{u.status}") for u in updates]
    results = await wc.runs.apply_many(items, queue.now_ms())
    event_types = [_EVENT_OF.get(u.status or "", "workflow_run.updated") for u in updates]
    applied = zip(event_types, updates, results, strict=True)
    retention = wc.settings.retention.ms
    await fire_run_triggers(wc.redis, wc.rules, applied, retention_ms=retention)
    return sum(r.changed for r in results)

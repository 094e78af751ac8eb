"""Simulated processing: PENDING → PROCESSING → PROCESSED / NEEDS_REVIEW / FAILED, then review.

A run's fate is drawn from the seeded RNG when it is created (with the probabilities configured
at that moment), so outcomes do not depend on how transitions interleave. Transitions are
scheduled on the simulated clock and each one carries the run's generation: cancelling or
reviewing a run by hand bumps it, which voids whatever was still scheduled.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

from sandbox.errors import ApiError
from sandbox.extend.models import RUNNABLE_STEP_TYPES, Dialect, Run, Status
from sandbox.extend.render import file_json, run_json
from sandbox.extend.values import extracted
from sandbox.ids import iso
from sandbox.state import SandboxState


class Fate(enum.StrEnum):
    PROCESSED = "PROCESSED"
    FAILED = "FAILED"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


class Lifecycle:
    def __init__(self, state: SandboxState) -> None:
        self._s = state

    def admit(self, run: Run) -> None:
        """Decide the run's fate and schedule its first transition."""
        run.fate = self._draw(run).value
        cfg = self._s.config.processing
        if run.status is Status.PENDING:
            self._after(run, run.created_at + cfg.pending_seconds, self._begin)
        else:
            self._after(run, run.created_at + cfg.processing_seconds, self._finish)

    def _draw(self, run: Run) -> Fate:
        cfg = self._s.config.processing
        rng = self._s.rng
        failed, review, reject = rng.random(), rng.random(), rng.random()
        if failed < cfg.p_failed:
            return Fate.FAILED
        may_review = not cfg.review_requires_step or run.version.has_step("HUMAN_REVIEW")
        if may_review and review < cfg.p_needs_review:
            return Fate.REJECTED if reject < cfg.p_reject else Fate.APPROVED
        return Fate.PROCESSED

    def _after(self, run: Run, due: float, step: Callable[[Run, float], None]) -> None:
        generation = run.generation

        def fire(at: float) -> None:
            if run.generation == generation and not run.deleted:
                step(run, at)

        self._s.scheduler.at(due, fire)

    def _begin(self, run: Run, at: float) -> None:
        run.start_time = at
        self._s.runs.update(run, Status.PROCESSING, at)
        self._after(run, at + self._s.config.processing.processing_seconds, self._finish)

    def _finish(self, run: Run, at: float) -> None:
        fate = Fate(run.fate)
        if fate is Fate.FAILED:
            run.failure_reason = "PROCESSING_FAILED"
            run.failure_message = "Simulated failure (sandbox processing.p_failed)"
            self._end(run, Status.FAILED, at, "workflow_run.failed")
            return
        self._add_step_runs(run, at)
        if fate is Fate.PROCESSED:
            self._end(run, Status.PROCESSED, at, "workflow_run.completed")
            return
        self._s.runs.update(run, Status.NEEDS_REVIEW, at)
        self.emit(run, "workflow_run.needs_review")
        if self._s.config.processing.auto_review:
            review_at = at + self._s.config.processing.review_seconds
            self._after(run, review_at, self._auto_review)

    def _auto_review(self, run: Run, at: float) -> None:
        if run.fate == Fate.REJECTED:
            self.reject(run, "Rejected in review (sandbox processing.p_reject)", at)
        else:
            self.approve(run, at)

    def approve(self, run: Run, at: float) -> None:
        self._require_review(run)
        run.reviewed = True
        run.reviewed_by = self._s.config.processing.reviewer_email
        run.reviewed_at = at
        self._end(run, Status.PROCESSED, at, "workflow_run.completed")

    def reject(self, run: Run, note: str | None, at: float) -> None:
        self._require_review(run)
        run.reviewed = True
        run.reviewed_by = self._s.config.processing.reviewer_email
        run.reviewed_at = at
        run.rejection_note = note
        self._end(run, Status.REJECTED, at, "workflow_run.rejected")

    def cancel(self, run: Run, at: float) -> None:
        if run.status not in (Status.PENDING, Status.PROCESSING):
            raise ApiError(
                400, f"Workflow run {run.id} is {run.status.value} and cannot be cancelled"
            )
        # The cancelled event exists only in the 2026-02-09 API.
        event = "workflow_run.cancelled" if run.dialect is Dialect.V2026 else None
        self._end(run, Status.CANCELLED, at, event)

    def _require_review(self, run: Run) -> None:
        if run.status is not Status.NEEDS_REVIEW:
            raise ApiError(409, f"Workflow run {run.id} is {run.status.value}, not NEEDS_REVIEW")

    def _end(self, run: Run, status: Status, at: float, event_type: str | None) -> None:
        run.generation += 1
        run.end_time = at
        self._s.runs.update(run, status, at)
        if event_type is not None:
            self.emit(run, event_type)

    def emit(self, run: Run, event_type: str) -> None:
        payload = run_json(run, run.dialect, self._s.config.dashboard_base_url)
        self._s.emit(event_type, run.id, payload, run.metadata)

    def _add_step_runs(self, run: Run, at: float) -> None:
        files = [file_json(f, at) for f in run.files]
        for step in run.version.steps:
            if step.get("type") not in RUNNABLE_STEP_TYPES:
                continue
            step_run = {
                "object": "workflow_step_run",
                "id": self._s.ids.make("workflow_step_run_"),
                "workflowRunId": run.id,
                "status": "PROCESSED",
                "files": files,
                "stepType": step["type"],
                "step": {
                    "object": "workflow_step",
                    "id": self._s.ids.make("step_"),
                    "name": step["name"],
                    "type": step["type"],
                },
                "result": self._extract_result(run, step, at),
            }
            run.step_runs.append(step_run)
            if self._s.config.processing.step_run_events:
                self._s.emit("workflow_run.step_run.processed", run.id, step_run, run.metadata)

    def _extract_result(self, run: Run, step: dict[str, Any], at: float) -> dict[str, Any] | None:
        """An EXTRACT step's result (the SDK's ExtractResult), and its 2025-04-21 output."""
        if step.get("type") != "EXTRACT":
            return None
        values: dict[str, Any] = {}
        for f in run.files:
            values.update(extracted(f, step))
        output = {"value": values, "metadata": {}}
        extract_run = {
            "object": "extract_run",
            "id": self._s.ids.make("exr_"),
            "status": "PROCESSED",
            "output": output,
            "reviewed": False,
            "edited": False,
            "config": {"schema": _schema(step, values)},
            "dashboardUrl": f"{self._s.config.dashboard_base_url}/workflows/{run.id}",
            "createdAt": iso(at),
            "updatedAt": iso(at),
        }
        run.outputs.append(
            {
                "object": "document_processor_run",
                "id": extract_run["id"],
                "processorName": step["name"],
                "type": "EXTRACT",
                "status": "PROCESSED",
                "output": output,
            }
        )
        return {"extractRun": extract_run}


def _schema(step: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    config = step.get("config")
    schema = config.get("schema") if isinstance(config, dict) else None
    if isinstance(schema, dict) and schema.get("type") == "object":
        return schema
    return {"type": "object", "properties": {k: {} for k in values}}

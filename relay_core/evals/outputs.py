"""The extracted values of a workflow run, as Extend returns it (GET /workflow_runs/{id}).

2026-02-09: `stepRuns[]`; an EXTRACT step run's `result.extractRun.output.value` holds the
values (the SDK's ExtractStepRun / ExtractResult / ExtractOutputJson). 2025-04-21: `outputs[]`,
processor runs whose `output.value` holds them (EXTRACT outputs only when a type is given).
Several extract steps are merged in order; a later step's field wins.
"""

from __future__ import annotations

from typing import Any

EXTRACT_TYPES = frozenset({"EXTRACT", "MERGE_EXTRACT", "CONDITIONAL_EXTRACT"})


def run_object(answer: Any) -> dict[str, Any]:
    # 2025-04-21 wraps the run as {"success": true, "workflowRun": {...}}.
    if isinstance(answer, dict) and isinstance(answer.get("workflowRun"), dict):
        return dict(answer["workflowRun"])
    return answer if isinstance(answer, dict) else {}


def extracted_values(run: dict[str, Any]) -> dict[str, Any] | None:
    """The merged extracted values, or None when the run carries none."""
    found: dict[str, Any] | None = None
    for value in [*_from_step_runs(run), *_from_outputs(run)]:
        found = {**(found or {}), **value}
    return found


def _from_step_runs(run: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for step_run in _dicts(run.get("stepRuns")):
        kind = step_run.get("stepType") or _get(step_run, "step", "type")
        if kind not in EXTRACT_TYPES:
            continue
        value = _get(step_run, "result", "extractRun", "output", "value")
        if isinstance(value, dict):
            out.append(value)
    return out


def _from_outputs(run: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for output in _dicts(run.get("outputs")):
        kind = output.get("type") or output.get("processorType")
        if kind is not None and kind not in EXTRACT_TYPES:
            continue
        value = _get(output, "output", "value")
        if isinstance(value, dict):
            out.append(value)
    return out


def _dicts(raw: Any) -> list[dict[str, Any]]:
    return [x for x in raw if isinstance(x, dict)] if isinstance(raw, list) else []


def _get(obj: Any, *path: str) -> Any:
    for name in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(name)
    return obj

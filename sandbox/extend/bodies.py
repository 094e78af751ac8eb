"""Run and batch bodies of each dialect, parsed into one RunRequest shape."""

from __future__ import annotations

from typing import Any

from sandbox.errors import bad_request
from sandbox.extend.inputs import (
    MAX_BATCH_INPUTS,
    MAX_RUN_FILES,
    RunRequest,
    RunSpec,
    file_2025,
    file_2026,
    metadata_of,
    priority_of,
    text_spec,
    workflow_id_2025,
    workflow_ref,
)

RUN_PRIORITY_DEFAULT = 50
BATCH_PRIORITY_DEFAULT = 90


def _list(value: Any, what: str) -> list[Any] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise bad_request(f"{what} must be an array")
    return value


def run_2025(body: dict[str, Any]) -> RunRequest:
    """``workflowId`` + ``files[]`` (≤50) or ``rawTexts[]``: one run per entry, in order."""
    workflow_id, version = workflow_id_2025(body)
    files = _list(body.get("files"), "files")
    texts = _list(body.get("rawTexts"), "rawTexts")
    if files and texts:
        raise bad_request("provide either files or rawTexts, not both")
    entries = files or texts
    if not entries:
        raise bad_request("either files or rawTexts must be a non-empty array")
    if len(entries) > MAX_RUN_FILES:
        raise bad_request(
            f"at most {MAX_RUN_FILES} files can be run at once; use the batch endpoint"
        )
    metadata = metadata_of(body)
    if files:
        specs = [RunSpec([file_2025(f, f"files[{i}]")], metadata) for i, f in enumerate(files)]
    else:
        specs = [RunSpec([text_spec(t, f"rawTexts[{i}]")], metadata) for i, t in enumerate(entries)]
    priority = priority_of(body, RUN_PRIORITY_DEFAULT)
    return RunRequest(workflow_id, version, priority, specs)


def run_2026(body: dict[str, Any]) -> RunRequest:
    """``workflow {id, version?}`` + exactly one of ``file`` or ``package {files: 2-50}``."""
    workflow_id, version = workflow_ref(body)
    has_file, has_package = body.get("file") is not None, body.get("package") is not None
    if has_file == has_package:
        raise bad_request("exactly one of file or package must be provided")
    if has_file:
        files = [file_2026(body["file"], "file")]
    else:
        package = body["package"]
        raw = _list(package.get("files") if isinstance(package, dict) else None, "package.files")
        if raw is None or not 2 <= len(raw) <= MAX_RUN_FILES:
            raise bad_request(f"package.files must hold 2 to {MAX_RUN_FILES} files")
        files = [file_2026(f, f"package.files[{i}]", allow_text=False) for i, f in enumerate(raw)]
        _reject_duplicates(files)
    spec = RunSpec(files, metadata_of(body))
    return RunRequest(workflow_id, version, priority_of(body, RUN_PRIORITY_DEFAULT), [spec])


def _reject_duplicates(files: list[Any]) -> None:
    seen = [f.url or f.file_id for f in files]
    if len(set(seen)) != len(seen):
        raise bad_request("package.files must not repeat a file id or URL")


def _inputs(body: dict[str, Any]) -> list[Any]:
    inputs = _list(body.get("inputs"), "inputs")
    if not inputs:
        raise bad_request("inputs must hold at least 1 input")
    if len(inputs) > MAX_BATCH_INPUTS:
        raise bad_request(f"inputs must hold at most {MAX_BATCH_INPUTS} inputs")
    return inputs


def _input_obj(raw: Any, i: int) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise bad_request(f"inputs[{i}] must be an object")
    return raw


def batch_2026(body: dict[str, Any]) -> RunRequest:
    workflow_id, version = workflow_ref(body)
    specs = []
    for i, raw in enumerate(_inputs(body)):
        item = _input_obj(raw, i)
        spec_file = file_2026(item.get("file"), f"inputs[{i}].file")
        specs.append(RunSpec([spec_file], metadata_of(item, f"inputs[{i}].metadata")))
    return RunRequest(workflow_id, version, priority_of(body, BATCH_PRIORITY_DEFAULT), specs)


def batch_2025(body: dict[str, Any]) -> RunRequest:
    workflow_id, version = workflow_id_2025(body)
    specs = []
    for i, raw in enumerate(_inputs(body)):
        item = _input_obj(raw, i)
        if (item.get("file") is None) == (item.get("rawText") is None):
            raise bad_request(f"inputs[{i}] must have exactly one of file or rawText")
        if item.get("file") is not None:
            spec_file = file_2025(item["file"], f"inputs[{i}].file")
        else:
            spec_file = text_spec(item["rawText"], f"inputs[{i}].rawText")
        specs.append(RunSpec([spec_file], metadata_of(item, f"inputs[{i}].metadata")))
    return RunRequest(workflow_id, version, priority_of(body, BATCH_PRIORITY_DEFAULT), specs)

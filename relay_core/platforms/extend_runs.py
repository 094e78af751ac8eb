"""Extend's workflow-run endpoints in both API dialects, on PlatformClient.

2026-02-09: one `POST /workflow_runs/batch` per chunk, each input carrying its own metadata.
2025-04-21: one `POST /workflow_runs` per chunk with `files[]` (or `rawTexts[]`) and one
request-level metadata; its runs come back in request order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from relay_core.platforms.http import PlatformClient, PlatformError
from relay_core.settings import Settings

V2026 = "2026-02-09"
V2025 = "2025-04-21"


@dataclass(frozen=True, slots=True)
class Submission:
    """What one chunk sends: the workflow, and per file its stored definition and metadata."""

    workflow_id: str
    version: str | None
    priority: int | None
    files: list[dict[str, Any]]
    metadata: list[dict[str, Any]]  # per file (2026) - 2025 sends request_metadata instead
    request_metadata: dict[str, Any]
    texts: bool  # 2025: send rawTexts


@dataclass(frozen=True, slots=True)
class Page:
    runs: list[dict[str, Any]]
    next_token: str | None


def extend_client(session: aiohttp.ClientSession, settings: Settings) -> PlatformClient:
    key = settings.platforms.extend.require_api_key().get_secret_value()
    headers = {
        "Authorization": f"Bearer {key}",
        "x-extend-api-version": settings.platforms.extend.api_version,
    }
    return PlatformClient(
        session,
        settings.platforms.extend.base_url,
        headers,
        settings.platforms.extend.timeout_seconds,
        "extend",
    )


class ExtendRuns:
    def __init__(self, client: PlatformClient, dialect: str) -> None:
        self.client = client
        self.dialect = dialect

    async def submit(self, sub: Submission) -> tuple[str | None, list[dict[str, Any]]]:
        """(platform batch id, runs in request order): 2026 gives the id, 2025 the runs."""
        if self.dialect == V2026:
            body = await self.client.request("POST", "/workflow_runs/batch", json=_batch_2026(sub))
            batch_id = body.get("batchId") if isinstance(body, dict) else None
            if not isinstance(batch_id, str):
                raise PlatformError("extend batch answer has no batchId", ambiguous=True, body=body)
            return batch_id, []
        body = await self.client.request("POST", "/workflow_runs", json=_run_2025(sub))
        runs = body.get("workflowRuns") if isinstance(body, dict) else None
        if not isinstance(runs, list) or len(runs) != len(sub.files):
            # Runs may exist anyway: the caller must look before sending again.
            raise PlatformError(
                "extend run answer does not list one run per file", ambiguous=True, body=body
            )
        return None, runs

    async def get(self, run_id: str) -> dict[str, Any]:
        body = await self.client.request("GET", f"/workflow_runs/{run_id}")
        return _unwrap(body, "workflowRun")

    async def cancel(self, run_id: str) -> dict[str, Any]:
        body = await self.client.request("POST", f"/workflow_runs/{run_id}/cancel")
        return _unwrap(body, "workflowRun")

    async def list(self, params: Mapping[str, str]) -> Page:
        body = await self.client.request("GET", "/workflow_runs", params=params)
        if not isinstance(body, dict):
            raise PlatformError("extend list answer is not an object", body=body)
        runs = body.get("data") if self.dialect == V2026 else body.get("workflowRuns")
        token = body.get("nextPageToken")
        return Page(
            [r for r in runs or [] if isinstance(r, dict)],
            token if isinstance(token, str) else None,
        )


def _unwrap(body: Any, key: str) -> dict[str, Any]:
    if isinstance(body, dict) and isinstance(body.get(key), dict):
        inner: dict[str, Any] = body[key]
        return inner
    if isinstance(body, dict):
        return body
    raise PlatformError("extend answer is not an object", body=body)


def file_2026(stored: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {k: stored[k] for k in ("url", "id", "text") if k in stored}
    if "name" in stored and "id" not in stored:
        out["name"] = stored["name"]
    return out


def file_2025(stored: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = (
        {"fileUrl": stored["url"]} if "url" in stored else {"fileId": stored["id"]}
    )
    if "name" in stored:
        out["fileName"] = stored["name"]
    return out


def _workflow_fields(sub: Submission) -> dict[str, Any]:
    return {"priority": sub.priority} if sub.priority is not None else {}


def _batch_2026(sub: Submission) -> dict[str, Any]:
    workflow: dict[str, Any] = {"id": sub.workflow_id}
    if sub.version is not None:
        workflow["version"] = sub.version
    inputs = [
        {"file": file_2026(f), "metadata": m} for f, m in zip(sub.files, sub.metadata, strict=True)
    ]
    return {"workflow": workflow, "inputs": inputs, **_workflow_fields(sub)}


def _run_2025(sub: Submission) -> dict[str, Any]:
    body: dict[str, Any] = {"workflowId": sub.workflow_id, "metadata": sub.request_metadata}
    if sub.version is not None:
        body["version"] = sub.version
    if sub.texts:
        body["rawTexts"] = [f["text"] for f in sub.files]
    else:
        body["files"] = [file_2025(f) for f in sub.files]
    return {**body, **_workflow_fields(sub)}

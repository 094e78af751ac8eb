"""Raw HTTP against the Extend routes: the 2025-04-21 dialect field by field, errors and limits."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from sandbox import Sandbox
from tests.sandbox.support import V2025, V2026, WF, headers

ISO = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"


async def call(
    http: aiohttp.ClientSession,
    sb: Sandbox,
    method: str,
    path: str,
    body: Any = None,
    version: str | None = V2025,
    key: str = "sk_sandbox",
) -> tuple[int, Any]:
    url = f"{sb.base_url}{path}"
    async with http.request(method, url, json=body, headers=headers(version, key)) as resp:
        return resp.status, await resp.json()


def assert_error(status: int, body: Any, want_status: int, code: str) -> None:
    assert status == want_status
    assert set(body) == {"code", "message", "retryable", "requestId"}
    assert body["code"] == code
    assert isinstance(body["message"], str)
    assert body["retryable"] is (code == "RATE_LIMIT_EXCEEDED")


async def test_run_2025_shape(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    body = {
        "workflowId": WF,
        "files": [
            {"fileName": "a.pdf", "fileUrl": "https://f.example/x/a.pdf"},
            {"fileUrl": "https://f.example/x/b%20c.png"},
            {"fileId": "file_v8gqaWzgTnSyIMZfrlEba", "fileName": "known.docx"},
        ],
        "metadata": {"tenant": "t1"},
        "priority": 10,
    }
    status, data = await call(http, sb, "POST", "/workflow_runs", body)
    assert status == 200
    assert set(data) == {"success", "workflowRuns"}
    assert data["success"] is True
    runs = data["workflowRuns"]
    assert [r["files"][0]["name"] for r in runs] == ["a.pdf", "b c.png", "known.docx"]
    assert [r["files"][0]["type"] for r in runs] == ["PDF", "IMG", "DOCX"]
    assert runs[2]["files"][0]["id"] == "file_v8gqaWzgTnSyIMZfrlEba"
    run = runs[0]
    assert run["object"] == "workflow_run"
    assert run["id"].startswith("workflow_run_")
    assert run["name"] == "a.pdf"
    assert run["url"] == f"https://dashboard.extend.ai/workflows/{WF}?workflowRunId={run['id']}"
    assert run["status"] == "PENDING"
    assert run["metadata"] == {"tenant": "t1"}
    assert run["reviewed"] is False
    assert run["outputs"] == []
    assert run["stepRuns"] == []
    assert run["batchId"] is None
    assert run["workflow"] == {"object": "workflow", "id": WF, "version": "1", "name": "Invoices"}
    assert "dashboardUrl" not in run
    assert "workflowVersion" not in run
    file = run["files"][0]
    assert file["object"] == "file"
    assert file["metadata"] == {}
    assert set(file) >= {"createdAt", "updatedAt"}
    assert run["initialRunAt"] is not None

    status, got = await call(http, sb, "GET", f"/workflow_runs/{run['id']}")
    assert status == 200
    assert set(got) == {"success", "workflowRun"}
    assert got["workflowRun"]["id"] == run["id"]


async def test_raw_texts_and_draft_version(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    body = {"workflowId": WF, "rawTexts": ["one", "two"], "version": "draft"}
    status, data = await call(http, sb, "POST", "/workflow_runs", body)
    assert status == 200
    runs = data["workflowRuns"]
    assert [r["files"][0]["type"] for r in runs] == ["TXT", "TXT"]
    assert {r["workflow"]["version"] for r in runs} == {"draft"}
    texts = [sb.state.runs.by_id[r["id"]].files[0].text for r in runs]
    assert texts == ["one", "two"]


async def test_batch_2025(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    inputs = [
        {"file": {"fileUrl": "https://f.example/1.pdf"}, "metadata": {"row": 1}},
        {"rawText": "hello", "metadata": {"row": 2}},
    ]
    status, data = await call(
        http, sb, "POST", "/workflow_runs/batch", {"workflowId": WF, "inputs": inputs}
    )
    assert status == 200
    assert set(data) == {"success", "batchId"}
    batch_id = data["batchId"]
    status, listed = await call(http, sb, "GET", f"/workflow_runs?batchId={batch_id}&sortDir=asc")
    assert set(listed) == {"success", "workflowRuns", "nextPageToken"}
    summaries = listed["workflowRuns"]
    assert [s["batchId"] for s in summaries] == [batch_id, batch_id]
    assert {s["workflowId"] for s in summaries} == {WF}
    metadata = [sb.state.runs.by_id[s["id"]].metadata for s in summaries]
    assert metadata == [{"row": 1}, {"row": 2}]


async def test_update_cancel_delete_2025(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    _, data = await call(http, sb, "POST", "/workflow_runs", {"workflowId": WF, "rawTexts": ["x"]})
    run_id = data["workflowRuns"][0]["id"]
    _, updated = await call(
        http, sb, "POST", f"/workflow_runs/{run_id}", {"name": "n", "metadata": {"a": 1}}
    )
    assert updated["workflowRun"]["name"] == "n"
    _, updated = await call(http, sb, "POST", f"/workflow_runs/{run_id}", {"metadata": {"b": 2}})
    assert updated["workflowRun"]["metadata"] == {"a": 1, "b": 2}
    status, cancelled = await call(http, sb, "POST", f"/workflow_runs/{run_id}/cancel")
    assert status == 200
    assert cancelled["workflowRun"]["status"] == "CANCELLED"
    status, again = await call(http, sb, "POST", f"/workflow_runs/{run_id}/cancel")
    assert_error(status, again, 400, "INVALID_REQUEST")
    status, deleted = await call(http, sb, "DELETE", f"/workflow_runs/{run_id}")
    assert status == 200
    assert deleted == {
        "success": True,
        "workflowRunId": run_id,
        "message": "Workflow run deleted successfully.",
    }
    status, gone = await call(http, sb, "GET", f"/workflow_runs/{run_id}")
    assert_error(status, gone, 404, "NOT_FOUND")
    assert sb.state.runs.by_id[run_id].deleted is True


@pytest.mark.parametrize(
    ("version", "key", "want", "code"),
    [
        (None, "sk_sandbox", 400, "INVALID_REQUEST"),
        ("2024-01-01", "sk_sandbox", 400, "INVALID_REQUEST"),
        (V2026, "sk_wrong", 401, "UNAUTHORIZED"),
    ],
)
async def test_version_header_and_auth(
    sb: Sandbox, http: aiohttp.ClientSession, version: str | None, key: str, want: int, code: str
) -> None:
    status, body = await call(http, sb, "GET", "/workflow_runs", version=version, key=key)
    assert_error(status, body, want, code)


def _files(n: int) -> list[dict[str, str]]:
    return [{"fileUrl": f"https://f.example/{i}.pdf"} for i in range(n)]


@pytest.mark.parametrize(
    ("path", "body", "version"),
    [
        ("/workflow_runs", {"workflowId": WF, "files": _files(51)}, V2025),
        ("/workflow_runs", {"workflowId": WF, "files": []}, V2025),
        ("/workflow_runs", {"workflowId": WF}, V2025),
        ("/workflow_runs", {"workflowId": WF, "files": [{"fileUrl": "ftp://x/a.pdf"}]}, V2025),
        ("/workflow_runs", {"workflowId": WF, "files": [{"fileId": "nope"}]}, V2025),
        ("/workflow_runs", {"workflowId": WF, "files": [{"fileName": "a.pdf"}]}, V2025),
        ("/workflow_runs", {"workflow": {"id": WF}}, V2026),
        ("/workflow_runs", {"workflow": {"id": WF}, "file": {"url": "x", "text": "y"}}, V2026),
        ("/workflow_runs", {"workflow": {"id": WF}, "file": {"text": "a"}, "priority": 0}, V2026),
        ("/workflow_runs", {"workflow": {"id": WF}, "file": {"text": "a"}, "metadata": 3}, V2026),
        (
            "/workflow_runs",
            {"workflow": {"id": WF}, "package": {"files": [{"url": "https://a.example/1"}]}},
            V2026,
        ),
        ("/workflow_runs/batch", {"workflowId": WF, "inputs": []}, V2025),
        (
            "/workflow_runs/batch",
            {"workflow": {"id": WF}, "inputs": [{"file": {"text": "x"}}] * 1001},
            V2026,
        ),
    ],
)
async def test_limits_answer_invalid_request(
    sb: Sandbox, http: aiohttp.ClientSession, path: str, body: Any, version: str
) -> None:
    status, answer = await call(http, sb, "POST", path, body, version=version)
    assert_error(status, answer, 400, "INVALID_REQUEST")
    assert len(sb.state.runs) == 0


async def test_batch_of_1000_is_accepted(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    inputs = [{"file": {"text": f"t{i}"}, "metadata": {"i": i}} for i in range(1000)]
    body = {"workflow": {"id": WF}, "inputs": inputs}
    status, answer = await call(http, sb, "POST", "/workflow_runs/batch", body, version=V2026)
    assert status == 200
    assert set(answer) == {"batchId"}
    assert len(sb.state.runs) == 1000


async def test_unknown_workflow_and_version(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    body = {"workflow": {"id": "workflow_missing"}, "file": {"text": "x"}}
    status, answer = await call(http, sb, "POST", "/workflow_runs", body, version=V2026)
    assert_error(status, answer, 404, "NOT_FOUND")
    body = {"workflow": {"id": WF, "version": "9"}, "file": {"text": "x"}}
    status, answer = await call(http, sb, "POST", "/workflow_runs", body, version=V2026)
    assert_error(status, answer, 404, "NOT_FOUND")


async def test_list_filters_and_sorting(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    names = ["invoice-1.pdf", "receipt.pdf", "invoice-2.pdf"]
    files = [{"fileUrl": f"https://f.example/{n}"} for n in names]
    _, data = await call(http, sb, "POST", "/workflow_runs", {"workflowId": WF, "files": files})
    ids = [r["id"] for r in data["workflowRuns"]]
    await call(http, sb, "POST", f"/workflow_runs/{ids[0]}/cancel")
    q = "/workflow_runs?fileNameContains=invoice&sortBy=createdAt&sortDir=asc"
    _, listed = await call(http, sb, "GET", q, version=V2026)
    assert [r["id"] for r in listed["data"]] == [ids[0], ids[2]]
    assert listed["object"] == "list"
    _, listed = await call(http, sb, "GET", "/workflow_runs?status=CANCELLED", version=V2026)
    assert [r["id"] for r in listed["data"]] == [ids[0]]
    # Default order is updatedAt desc: the cancelled run was touched last.
    _, listed = await call(http, sb, "GET", f"/workflow_runs?workflowId={WF}", version=V2026)
    assert listed["data"][0]["id"] == ids[0]
    status, bad = await call(http, sb, "GET", "/workflow_runs?status=DONE")
    assert_error(status, bad, 400, "INVALID_REQUEST")
    status, bad = await call(http, sb, "GET", "/workflow_runs?nextPageToken=garbage!")
    assert_error(status, bad, 400, "INVALID_REQUEST")


async def test_unknown_route_and_method(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    status, body = await call(http, sb, "GET", "/no_such_thing")
    assert_error(status, body, 404, "NOT_FOUND")
    status, body = await call(http, sb, "PUT", "/workflow_runs")
    assert status == 405
    assert body["code"] == "METHOD_NOT_ALLOWED"


async def test_version_fallbacks(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    # No published version: runs and "latest" fall back to the draft.
    body = {"workflowId": "workflow_test_review", "rawTexts": ["x"]}
    _, data = await call(http, sb, "POST", "/workflow_runs", body)
    assert data["workflowRuns"][0]["workflow"]["version"] == "draft"
    status, latest = await call(
        http, sb, "GET", "/workflows/workflow_test_review/versions/latest", version=V2026
    )
    assert status == 200
    assert latest["version"] == "draft"
    status, missing = await call(http, sb, "GET", f"/workflows/{WF}/versions/7", version=V2026)
    assert_error(status, missing, 404, "NOT_FOUND")

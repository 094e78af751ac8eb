"""The official extend-ai SDK, pointed at the sandbox, parses every answer into its typed models."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from extend_ai import AsyncExtend
from extend_ai.core.request_options import RequestOptions
from extend_ai.errors import (
    BadRequestError,
    InternalServerError,
    NotFoundError,
    PaymentRequiredError,
    TooManyRequestsError,
    UnauthorizedError,
)
from extend_ai.types import Workflow, WorkflowRun, WorkflowRunSummary, WorkflowVersion

from sandbox import Sandbox
from tests.sandbox.support import EXTRACT, WF

NO_RETRY: RequestOptions = {"max_retries": 0}


@pytest.fixture
async def client(sb: Sandbox) -> AsyncIterator[AsyncExtend]:
    async with httpx.AsyncClient() as transport:
        yield AsyncExtend(token="sk_sandbox", base_url=sb.base_url, httpx_client=transport)


async def test_workflow_run_methods(client: AsyncExtend, sb: Sandbox) -> None:
    run = await client.workflow_runs.create(
        workflow={"id": WF},
        file={"url": "https://files.example/inv-1.pdf", "name": "inv-1.pdf"},
        metadata={"order": "A-1"},
    )
    assert isinstance(run, WorkflowRun)
    assert run.status == "PROCESSING"
    assert run.workflow.id == WF
    assert run.workflow_version.version == "1"
    assert run.files[0].name == "inv-1.pdf"
    assert run.files[0].type == "PDF"
    assert run.metadata == {"order": "A-1"}

    fetched = await client.workflow_runs.retrieve(run.id)
    assert fetched.id == run.id

    updated = await client.workflow_runs.update(run.id, name="renamed", metadata={"k": 2})
    assert updated.metadata == {"order": "A-1", "k": 2}

    cancelled = await client.workflow_runs.cancel(run.id)
    assert cancelled.status == "CANCELLED"

    batch = await client.workflow_runs.create_batch(
        workflow={"id": WF, "version": "draft"},
        inputs=[
            {"file": {"url": f"https://files.example/b{i}.pdf"}, "metadata": {"i": i}}
            for i in range(3)
        ],
    )
    listed = await client.workflow_runs.list(batch_id=batch.batch_id, max_page_size=2)
    assert len(listed.data) == 2
    assert all(isinstance(item, WorkflowRunSummary) for item in listed.data)
    assert all(item.batch_id == batch.batch_id for item in listed.data)
    assert listed.next_page_token
    rest = await client.workflow_runs.list(
        batch_id=batch.batch_id, max_page_size=2, next_page_token=listed.next_page_token
    )
    assert len(rest.data) == 1
    assert rest.next_page_token is None
    assert {r.workflow_version.version for r in [*listed.data, *rest.data]} == {"draft"}

    deleted = await client.workflow_runs.delete(run.id)
    assert deleted.id == run.id
    with pytest.raises(NotFoundError):
        await client.workflow_runs.retrieve(run.id, request_options=NO_RETRY)


async def test_package_run(client: AsyncExtend) -> None:
    run = await client.workflow_runs.create(
        workflow={"id": WF},
        package={"files": [{"url": "https://f.example/a.pdf"}, {"id": "file_abc123"}]},
    )
    assert [f.name for f in run.files] == ["a.pdf", "file_abc123"]


async def test_workflow_and_version_methods(client: AsyncExtend) -> None:
    created = await client.workflows.create(name="Receipts")
    assert isinstance(created, Workflow)
    assert [s.type for s in created.draft_version.steps] == ["TRIGGER", "PARSE"]
    assert created.draft_version.version == "draft"

    got = await client.workflows.retrieve(created.id)
    assert got.name == "Receipts"
    listed = await client.workflows.list(max_page_size=100)
    assert created.id in {w.id for w in listed.data}

    steps: list[Any] = [
        {"name": "trigger", "type": "TRIGGER", "next": [{"step": "parse"}]},
        {"name": "parse", "type": "PARSE", "next": [{"step": "extract"}]},
        EXTRACT,
    ]
    updated = await client.workflows.update(created.id, name="Receipts 2", steps=steps)
    assert updated.name == "Receipts 2"
    assert len(updated.draft_version.steps) == 3

    v1 = await client.workflow_versions.create(created.id, name="first")
    assert isinstance(v1, WorkflowVersion)
    assert v1.version == "1"
    assert v1.name == "first"
    two = [
        {"name": "trigger", "type": "TRIGGER", "next": [{"step": "parse"}]},
        steps[1] | {"next": []},
    ]
    v2 = await client.workflow_versions.create(created.id, steps=two)
    assert v2.version == "2"
    assert (await client.workflow_versions.retrieve(created.id, "latest")).id == v2.id
    assert (await client.workflow_versions.retrieve(created.id, "1")).id == v1.id
    assert (await client.workflow_versions.retrieve(created.id, v1.id)).version == "1"
    draft = await client.workflow_versions.retrieve(created.id, "draft")
    assert len(draft.steps) == 3  # deploying explicit steps leaves the draft alone
    versions = await client.workflow_versions.list(created.id)
    assert [v.version for v in versions.data] == ["draft", "2", "1"]


async def test_typed_errors(client: AsyncExtend, sb: Sandbox) -> None:
    with pytest.raises(NotFoundError) as missing:
        await client.workflows.retrieve("workflow_nope", request_options=NO_RETRY)
    assert missing.value.status_code == 404
    assert missing.value.body["code"] == "NOT_FOUND"

    with pytest.raises(BadRequestError) as bad:
        await client.workflow_versions.create(
            WF, steps=[{"name": "x", "type": "EXTRACT"}], request_options=NO_RETRY
        )
    assert bad.value.body["code"] == "INVALID_REQUEST"
    assert bad.value.body["retryable"] is False

    with pytest.raises(BadRequestError):
        await _cancel_twice(client)

    async with httpx.AsyncClient() as transport:
        wrong = AsyncExtend(token="sk_wrong", base_url=sb.base_url, httpx_client=transport)
        with pytest.raises(UnauthorizedError) as unauthorized:
            await wrong.workflows.list(request_options=NO_RETRY)
    assert unauthorized.value.status_code == 401


async def _cancel_twice(client: AsyncExtend) -> None:
    run = await client.workflow_runs.create(workflow={"id": WF}, file={"text": "hello"})
    await client.workflow_runs.cancel(run.id)
    await client.workflow_runs.cancel(run.id, request_options=NO_RETRY)


async def test_rate_limit_is_typed(client: AsyncExtend, sb: Sandbox) -> None:
    sb.state.clock.set_paused(True)
    sb.state.config = sb.state.config.patched({"rate_limits": {"get_rps": 1}})
    await client.workflows.list()
    with pytest.raises(TooManyRequestsError) as limited:
        await client.workflows.list(request_options=NO_RETRY)
    assert limited.value.status_code == 429
    assert limited.value.headers is not None
    assert limited.value.headers["retry-after"] == "1"
    assert limited.value.body["code"] == "RATE_LIMIT_EXCEEDED"
    assert limited.value.body["retryable"] is True


async def test_server_fault_is_typed(client: AsyncExtend, sb: Sandbox) -> None:
    sb.state.config = sb.state.config.patched({"faults": {"p_500": 1.0}})
    with pytest.raises(InternalServerError) as failed:
        await client.workflow_runs.list(request_options=NO_RETRY)
    assert failed.value.status_code == 500
    assert failed.value.body["retryable"] is True


async def test_usage_blocked_is_typed(client: AsyncExtend, sb: Sandbox) -> None:
    sb.state.config = sb.state.config.patched({"faults": {"usage_blocked": True}})
    with pytest.raises(PaymentRequiredError) as blocked:
        await client.workflow_runs.create(
            workflow={"id": WF}, file={"text": "hello"}, request_options=NO_RETRY
        )
    assert blocked.value.status_code == 402
    # The SDK parses a 402 body into its typed ApiError model: the documented shape.
    error = blocked.value.body
    assert (error.code, error.retryable) == ("USAGE_BLOCKED", False)
    assert error.message
    assert error.request_id is not None
    assert len(sb.state.runs) == 0

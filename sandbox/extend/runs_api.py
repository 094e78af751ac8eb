"""Extend workflow-run endpoints: run, batch, get, list, update, cancel, delete."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from sandbox.appkeys import LIFECYCLE, STATE
from sandbox.errors import ApiError, bad_request
from sandbox.extend import bodies
from sandbox.extend.gate import gate, json_body, rate_limited
from sandbox.extend.inputs import RunRequest, file_type, name_from_url
from sandbox.extend.models import Dialect, Run, RunFile, Status
from sandbox.extend.paging import decode_token, encode_token, page_size, sort_params
from sandbox.extend.render import run_json, run_summary
from sandbox.extend.store import RunQuery
from sandbox.state import SandboxState

Json = dict[str, Any]


def _respond(dialect: Dialect, body_2026: Json, body_2025: Json) -> web.Response:
    return web.json_response(body_2025 if dialect is Dialect.V2025 else body_2026)


def _run_files(state: SandboxState, spec_files: list[Any], at: float) -> list[RunFile]:
    files = []
    for spec in spec_files:
        file_id = spec.file_id or state.ids.make("file_")
        uploaded = state.files.get(spec.file_id) if spec.file_id else None
        if uploaded is not None:
            name = spec.name or uploaded.name
        elif spec.url is not None:
            name = spec.name or name_from_url(spec.url)
        elif spec.text is not None:
            name = spec.name or f"{file_id}.txt"
        else:
            name = spec.name or file_id
        kind = "TXT" if spec.text is not None else file_type(name)
        content = uploaded.text if uploaded is not None else None
        files.append(RunFile(file_id, name, kind, at, spec.url, spec.file_id, spec.text, content))
    return files


def create_runs(
    request: web.Request, req: RunRequest, dialect: Dialect, batch_id: str | None
) -> list[Run]:
    state = request.app[STATE]
    workflow = state.catalog.get(req.workflow_id)
    version = state.catalog.resolve(workflow, req.version)
    if version is None:
        raise ApiError(404, f"Version {req.version} of workflow {workflow.id} not found")
    # Single runs of the current API start processing at once; older runs and batches queue.
    starts_now = batch_id is None and dialect is Dialect.V2026
    runs = []
    for spec in req.specs:
        now = state.clock.now()
        files = _run_files(state, spec.files, now)
        run = Run(
            seq=state.runs.next_seq(),
            id=state.ids.make("workflow_run_"),
            workflow=workflow,
            version=version,
            dialect=dialect,
            status=Status.PROCESSING if starts_now else Status.PENDING,
            files=files,
            metadata=dict(spec.metadata),
            created_at=now,
            updated_at=now,
            priority=req.priority,
            name=files[0].name,
            batch_id=batch_id,
            initial_run_at=now,
            start_time=now if starts_now else None,
        )
        state.runs.add(run)
        request.app[LIFECYCLE].admit(run)
        runs.append(run)
    return runs


def _refuse_if_blocked(state: SandboxState) -> None:
    if state.config.faults.usage_blocked:
        raise ApiError(
            402,
            "Usage is blocked for this organization; check your plan and billing",
            code="USAGE_BLOCKED",
            retryable=False,
        )


def _admit_files(state: SandboxState, count: int, batch: bool) -> None:
    limits = state.config.rate_limits
    if batch and not limits.files_per_minute_counts_batch:
        return
    wait = state.limiter.take_files(count, limits)
    if wait is not None:
        raise rate_limited(wait, state)


async def run_workflow(request: web.Request) -> web.Response:
    dialect = gate(request, "RUN")
    _refuse_if_blocked(request.app[STATE])
    body = await json_body(request)
    req = bodies.run_2025(body) if dialect is Dialect.V2025 else bodies.run_2026(body)
    state = request.app[STATE]
    _admit_files(state, sum(len(s.files) for s in req.specs), batch=False)
    runs = create_runs(request, req, dialect, None)
    dash = state.config.dashboard_base_url
    rendered = [run_json(r, dialect, dash) for r in runs]
    return _respond(dialect, rendered[0], {"success": True, "workflowRuns": rendered})


async def batch_run_workflow(request: web.Request) -> web.Response:
    dialect = gate(request, "RUN")
    _refuse_if_blocked(request.app[STATE])
    body = await json_body(request)
    req = bodies.batch_2025(body) if dialect is Dialect.V2025 else bodies.batch_2026(body)
    state = request.app[STATE]
    _admit_files(state, len(req.specs), batch=True)
    batch_id = state.ids.make("batch_", 8)
    create_runs(request, req, dialect, batch_id)
    return _respond(dialect, {"batchId": batch_id}, {"success": True, "batchId": batch_id})


def _run(request: web.Request) -> Run:
    run_id = request.match_info["id"]
    run = request.app[STATE].runs.get(run_id)
    if run is None:
        raise ApiError(404, f"Workflow run {run_id} not found")
    return run


def _run_response(request: web.Request, run: Run, dialect: Dialect) -> web.Response:
    body = run_json(run, dialect, request.app[STATE].config.dashboard_base_url)
    return _respond(dialect, body, {"success": True, "workflowRun": body})


async def get_run(request: web.Request) -> web.Response:
    dialect = gate(request, "GET")
    return _run_response(request, _run(request), dialect)


async def update_run(request: web.Request) -> web.Response:
    dialect = gate(request, "WRITE")
    body = await json_body(request, allow_empty=True)
    run = _run(request)
    name, metadata = body.get("name"), body.get("metadata")
    if name is not None and not isinstance(name, str):
        raise bad_request("name must be a string")
    if metadata is not None and not isinstance(metadata, dict):
        raise bad_request("metadata must be an object")
    if name is not None:
        run.name = name
    if metadata:
        run.metadata = {**run.metadata, **metadata}
    state = request.app[STATE]
    state.runs.update(run, None, state.clock.now())
    return _run_response(request, run, dialect)


async def cancel_run(request: web.Request) -> web.Response:
    dialect = gate(request, "WRITE")
    run = _run(request)
    request.app[LIFECYCLE].cancel(run, request.app[STATE].clock.now())
    return _run_response(request, run, dialect)


async def delete_run(request: web.Request) -> web.Response:
    dialect = gate(request, "WRITE")
    run = _run(request)
    run.generation += 1
    request.app[STATE].runs.delete(run)
    message = "Workflow run deleted successfully."
    body_2025 = {"success": True, "workflowRunId": run.id, "message": message}
    return _respond(dialect, {"id": run.id}, body_2025)


def _status(raw: str | None) -> Status | None:
    if raw is None:
        return None
    try:
        return Status(raw)
    except ValueError:
        raise bad_request(f"status {raw!r} is not a workflow run status") from None


async def list_runs(request: web.Request) -> web.Response:
    dialect = gate(request, "GET")
    q = request.query
    sort_by, descending = sort_params(q)
    filters = [q.get(k) for k in ("status", "workflowId", "batchId", "fileNameContains")]
    after = None
    if token := q.get("nextPageToken"):
        data = decode_token(token)
        if data.get("s") != [sort_by, descending, filters] or not isinstance(data.get("a"), int):
            raise bad_request("nextPageToken does not belong to this query")
        after = data["a"]
    query = RunQuery(
        status=_status(filters[0]),
        workflow_id=filters[1],
        batch_id=filters[2],
        file_name_contains=filters[3],
        sort_by=sort_by,
        descending=descending,
        after=after,
        limit=page_size(q),
    )
    state = request.app[STATE]
    runs, cursor = state.runs.query(query)
    dash = state.config.dashboard_base_url
    items = [run_summary(r, dialect, dash) for r in runs]
    token_out = encode_token({"a": cursor, "s": [sort_by, descending, filters]}) if cursor else None
    body_2026: Json = {"object": "list", "data": items, "nextPageToken": token_out}
    body_2025: Json = {"success": True, "workflowRuns": items, "nextPageToken": token_out}
    return _respond(dialect, body_2026, body_2025)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post("/workflow_runs/batch", batch_run_workflow)
    router.add_post("/workflow_runs", run_workflow)
    router.add_get("/workflow_runs", list_runs)
    router.add_get("/workflow_runs/{id}", get_run)
    router.add_post("/workflow_runs/{id}", update_run)
    router.add_post("/workflow_runs/{id}/cancel", cancel_run)
    router.add_delete("/workflow_runs/{id}", delete_run)

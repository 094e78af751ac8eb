"""Extend workflow and workflow-version endpoints (Extend's Create and Get Workflow Version API
pages)."""

from __future__ import annotations

from aiohttp import web

from sandbox.appkeys import STATE
from sandbox.errors import ApiError, bad_request
from sandbox.extend.gate import gate, json_body
from sandbox.extend.models import Version, Workflow
from sandbox.extend.paging import offset_page, sort_params
from sandbox.extend.render import version_json, version_summary, workflow_json, workflow_summary


def _workflow(request: web.Request) -> Workflow:
    return request.app[STATE].catalog.get(request.match_info["id"])


async def create_workflow(request: web.Request) -> web.Response:
    gate(request, "WRITE")
    body = await json_body(request)
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise bad_request("name is required")
    state = request.app[STATE]
    workflow = state.catalog.create(name, body.get("steps"))
    state.emit("workflow.created", workflow.id, workflow_json(workflow))
    return web.json_response(workflow_json(workflow))


async def list_workflows(request: web.Request) -> web.Response:
    gate(request, "GET")
    sort_by, descending = sort_params(request.query)
    key = "created_at" if sort_by == "createdAt" else "updated_at"
    workflows = sorted(
        request.app[STATE].catalog.workflows.values(),
        key=lambda w: (getattr(w, key), w.id),
        reverse=descending,
    )
    page, token = offset_page(workflows, request.query)
    data = [workflow_summary(w) for w in page]
    return web.json_response({"object": "list", "data": data, "nextPageToken": token})


async def get_workflow(request: web.Request) -> web.Response:
    gate(request, "GET")
    return web.json_response(workflow_json(_workflow(request)))


async def update_workflow(request: web.Request) -> web.Response:
    gate(request, "WRITE")
    body = await json_body(request, allow_empty=True)
    workflow = _workflow(request)
    request.app[STATE].catalog.update(workflow, body.get("name"), body.get("steps"))
    return web.json_response(workflow_json(workflow))


async def deploy_version(request: web.Request) -> web.Response:
    gate(request, "WRITE")
    body = await json_body(request, allow_empty=True)
    workflow = _workflow(request)
    state = request.app[STATE]
    version = state.catalog.deploy(workflow, body.get("name"), body.get("steps"))
    state.record_deploy("extend", workflow.id, version.number, versionId=version.id)
    state.emit("workflow.deployed", workflow.id, workflow_json(workflow))
    return web.json_response(version_json(version))


def _versions(workflow: Workflow, descending: bool) -> list[Version]:
    # The draft sorts after every published version (it is the newest work).
    ordered = [*workflow.published, workflow.draft]
    return ordered[::-1] if descending else ordered


async def list_versions(request: web.Request) -> web.Response:
    gate(request, "GET")
    _, descending = sort_params(request.query)
    page, token = offset_page(_versions(_workflow(request), descending), request.query)
    data = [version_summary(v) for v in page]
    return web.json_response({"object": "list", "data": data, "nextPageToken": token})


async def get_version(request: web.Request) -> web.Response:
    gate(request, "GET")
    workflow = _workflow(request)
    ref = request.match_info["version_id"]
    version = request.app[STATE].catalog.resolve(workflow, ref)
    if version is None:
        raise ApiError(404, f"Version {ref} of workflow {workflow.id} not found")
    return web.json_response(version_json(version))


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post("/workflows", create_workflow)
    router.add_get("/workflows", list_workflows)
    router.add_get("/workflows/{id}", get_workflow)
    router.add_post("/workflows/{id}", update_workflow)
    router.add_post("/workflows/{id}/versions", deploy_version)
    router.add_get("/workflows/{id}/versions", list_versions)
    router.add_get("/workflows/{id}/versions/{version_id}", get_version)

"""xpander workflow endpoints: list, create, get, PATCH (stage), PUT (deploy)."""

from __future__ import annotations

import hmac
from typing import Any

import orjson
from aiohttp import web

from sandbox.appkeys import STATE
from sandbox.errors import ApiError
from sandbox.xpander.store import XpWorkflow, unprocessable

PREFIX = "/xpander/v1/workflows"


def _auth(request: web.Request) -> None:
    expected = request.app[STATE].config.xpander_api_key.encode()
    given = request.headers.get("x-api-key", "")
    if not given or not hmac.compare_digest(given.encode(), expected):
        raise ApiError(401, "Invalid API key")


async def _body(request: web.Request) -> Any:
    try:
        return orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        issue = {"loc": ["body"], "msg": "JSON decode error", "type": "json_invalid"}
        raise unprocessable([issue]) from None


def _workflow(request: web.Request) -> XpWorkflow:
    return request.app[STATE].xpander.get(request.match_info["workflow_id"])


async def list_workflows(request: web.Request) -> web.Response:
    _auth(request)
    items = [w.to_json() for w in request.app[STATE].xpander.workflows.values()]
    return web.json_response({"items": items})


async def create_workflow(request: web.Request) -> web.Response:
    _auth(request)
    workflow = request.app[STATE].xpander.create(await _body(request))
    return web.json_response(workflow.to_json(), status=201)


async def get_workflow(request: web.Request) -> web.Response:
    _auth(request)
    return web.json_response(_workflow(request).to_json())


async def patch_workflow(request: web.Request) -> web.Response:
    _auth(request)
    state = request.app[STATE]
    workflow = _workflow(request)
    state.xpander.patch(workflow, await _body(request))
    if request.query.get("deploy", "false").lower() == "true":
        _deploy(request, workflow)
    return web.json_response(workflow.to_json())


async def deploy_workflow(request: web.Request) -> web.Response:
    _auth(request)
    workflow = _workflow(request)
    _deploy(request, workflow)
    return web.json_response(workflow.to_json())


def _deploy(request: web.Request, workflow: XpWorkflow) -> None:
    state = request.app[STATE]
    state.xpander.deploy(workflow)
    state.record_deploy("xpander", workflow.id, str(workflow.version))


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(PREFIX, list_workflows)
    router.add_post(PREFIX, create_workflow)
    router.add_get(PREFIX + "/{workflow_id}", get_workflow)
    router.add_patch(PREFIX + "/{workflow_id}", patch_workflow)
    router.add_put(PREFIX + "/{workflow_id}", deploy_workflow)

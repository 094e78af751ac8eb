"""Eachlabs workflow endpoints, on both the current (Bearer) and legacy (X-API-Key) auth."""

from __future__ import annotations

import hmac
from typing import Any

import orjson
from aiohttp import web

from sandbox.appkeys import STATE
from sandbox.eachlabs.store import version_json, workflow_json
from sandbox.errors import ApiError

PREFIXES = ("/eachlabs/v1", "/eachlabs/api/v1")


def _auth(request: web.Request) -> None:
    expected = request.app[STATE].config.eachlabs_api_key.encode()
    bearer = request.headers.get("Authorization", "")
    given = request.headers.get("X-API-Key") or bearer.removeprefix("Bearer ")
    if not given or not hmac.compare_digest(given.encode(), expected):
        raise ApiError(401, "unauthorized")


async def _body(request: web.Request) -> Any:
    try:
        return orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise ApiError(400, "invalid JSON body") from None


async def create_workflow(request: web.Request) -> web.Response:
    _auth(request)
    body = await _body(request)
    if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"]:
        raise ApiError(400, "name is required")
    slug, description = body.get("slug"), body.get("description", "")
    if (slug is not None and not isinstance(slug, str)) or not isinstance(description, str):
        raise ApiError(400, "slug and description must be strings")
    workflow = request.app[STATE].eachlabs.create(body["name"], slug, description)
    return web.json_response(workflow_json(workflow), status=201)


async def get_workflow(request: web.Request) -> web.Response:
    _auth(request)
    workflow = request.app[STATE].eachlabs.get(request.match_info["workflow_id"])
    return web.json_response(workflow_json(workflow))


async def get_version(request: web.Request) -> web.Response:
    _auth(request)
    workflow = request.app[STATE].eachlabs.get(request.match_info["workflow_id"])
    version = workflow.versions.get(request.match_info["version_id"])
    if version is None:
        raise ApiError(404, "version not found")
    return web.json_response(version_json(workflow, version))


async def put_version(request: web.Request) -> web.Response:
    _auth(request)
    state = request.app[STATE]
    workflow = state.eachlabs.get(request.match_info["workflow_id"])
    version_id = request.match_info["version_id"]
    version = state.eachlabs.put_version(workflow, version_id, await _body(request))
    state.record_deploy("eachlabs", workflow.id, version_id)
    return web.json_response(version_json(workflow, version))


def add_routes(router: web.UrlDispatcher) -> None:
    for prefix in PREFIXES:
        router.add_post(f"{prefix}/workflows", create_workflow)
        router.add_get(f"{prefix}/workflows/{{workflow_id}}", get_workflow)
        router.add_get(f"{prefix}/workflows/{{workflow_id}}/versions/{{version_id}}", get_version)
        router.add_put(f"{prefix}/workflows/{{workflow_id}}/versions/{{version_id}}", put_version)

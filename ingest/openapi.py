"""GET /openapi.json: the OpenAPI 3.1 document, built from the route registry's models.

Routes served without a spec (added straight to the router) still appear, with their path
parameters and an undescribed JSON answer, so the document lists every route that exists.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from ingest.api import SPECS, RouteBook, RouteSpec
from ingest.responses import json_response
from ingest.schemas import ErrorBody

REF = "#/components/schemas/{model}"
_PARAM = re.compile(r"\{(\w+)\}")
_SECURITY = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "a key from RELAY_API_KEYS"},
    "metrics": {"type": "http", "scheme": "bearer", "description": "METRICS_TOKEN, when set"},
}
_WEBHOOK_HEADERS = ("x-extend-request-timestamp", "x-extend-request-signature")


def build(app: web.Application) -> dict[str, Any]:
    book: RouteBook = app[SPECS] if SPECS in app else RouteBook()
    specs = list(book)
    specs += _unregistered(app, specs)
    models = _models(specs)
    _, schemas = models_json_schema([(m, "serialization") for m in models], ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for spec in specs:
        paths.setdefault(spec.path, {})[spec.method.lower()] = _operation(spec)
    return {
        "openapi": "3.1.0",
        "info": {"title": "workflow-relay", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": schemas.get("$defs", {}),
            "securitySchemes": _SECURITY,
        },
    }


def _models(specs: list[RouteSpec]) -> list[type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {"ErrorBody": ErrorBody}
    for spec in specs:
        for model in (spec.body, spec.query, *spec.responses.values()):
            if model is not None:
                found[model.__name__] = model
    return list(found.values())


def _unregistered(app: web.Application, specs: list[RouteSpec]) -> list[RouteSpec]:
    known = {(s.method, s.path) for s in specs}
    out = []
    for route in app.router.routes():
        path = route.resource.canonical if route.resource else ""
        wanted = path.startswith("/v1/") or path.startswith("/webhooks/")
        if wanted and route.method != "HEAD" and (route.method, path) not in known:
            summary = "(no models registered for this route yet)"
            out.append(
                RouteSpec(route.method, path, route.name or path, summary, "bearer", {200: None})
            )
    return out


def _operation(spec: RouteSpec) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": spec.name,
        "summary": spec.summary,
        "parameters": _parameters(spec),
        "responses": _responses(spec),
    }
    if spec.deprecated:
        op["deprecated"] = True
        op["description"] = spec.deprecated
    if spec.auth in _SECURITY:
        op["security"] = [{spec.auth: []}]
    if spec.body is not None:
        op["requestBody"] = {
            "required": spec.method == "POST" and spec.auth == "webhook",
            "content": {"application/json": {"schema": {"$ref": _ref(spec.body)}}},
        }
    return op


def _parameters(spec: RouteSpec) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": n, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        for n in _PARAM.findall(spec.path)
    ]
    if spec.query is not None:
        schema = spec.query.model_json_schema(ref_template=REF)
        for name, prop in schema.get("properties", {}).items():
            params.append({"name": name, "in": "query", "required": False, "schema": prop})
    if spec.auth == "webhook":
        params += [
            {"name": h, "in": "header", "required": True, "schema": {"type": "string"}}
            for h in _WEBHOOK_HEADERS
        ]
    return params


def _responses(spec: RouteSpec) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for status, model in spec.responses.items():
        content_schema = {"$ref": _ref(model)} if model is not None else {}
        if spec.content_type != "application/json":
            content_schema = {"type": "string"}
        out[str(status)] = {
            "description": "OK" if status < 300 else "",
            "content": {spec.content_type: {"schema": content_schema}},
        }
    error = {"content": {"application/json": {"schema": {"$ref": _ref(ErrorBody)}}}}
    for status in spec.errors:
        out[str(status)] = {"description": "error", **error}
    return out


def _ref(model: type[BaseModel] | None) -> str:
    assert model is not None
    return REF.format(model=model.__name__)


async def openapi_json(request: web.Request) -> web.Response:
    # Built per request (a few ms): rarely fetched, and nothing to keep in step.
    return json_response(build(request.app))

"""The control API under /_sandbox/: read what happened, steer time, faults and reviews."""

from __future__ import annotations

from typing import Any

import orjson
import pydantic
from aiohttp import web

from sandbox.appkeys import LIFECYCLE, STATE
from sandbox.errors import ApiError
from sandbox.extend.models import Run
from sandbox.ids import iso
from sandbox.recorder import DETAILS

Json = dict[str, Any]


async def _body(request: web.Request) -> Json:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ApiError(400, "invalid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "body must be a JSON object")
    return body


def run_info(run: Run) -> Json:
    return {
        "id": run.id,
        "status": run.status.value,
        "deleted": run.deleted,
        "workflowId": run.workflow.id,
        "version": run.version.number,
        "versionId": run.version.id,
        "batchId": run.batch_id,
        "dialect": run.dialect.value,
        "name": run.name,
        "metadata": run.metadata,
        "priority": run.priority,
        "fate": run.fate,
        "createdAt": iso(run.created_at),
        "updatedAt": iso(run.updated_at),
        "files": [
            {"id": f.id, "name": f.name, "url": f.url, "fileId": f.file_id, "text": f.text}
            for f in run.files
        ],
    }


def _matches(run: Run, query: Any) -> bool:
    simple = {"batchId": run.batch_id, "workflowId": run.workflow.id, "status": run.status.value}
    for key, value in query.items():
        if key in simple and simple[key] != value:
            return False
        if key == "fileUrl" and all(f.url != value for f in run.files):
            return False
        if key.startswith("meta.") and str(run.metadata.get(key[5:])) != value:
            return False
    return True


def _include(request: web.Request) -> frozenset[str]:
    raw = request.query.get("include", "")
    wanted = frozenset(part.strip() for part in raw.split(",") if part.strip())
    if not wanted <= DETAILS:
        allowed = ", ".join(sorted(DETAILS))
        raise ApiError(400, f"include takes a comma-separated list of: {allowed}")
    return wanted


async def list_requests(request: web.Request) -> web.Response:
    log = request.app[STATE].requests
    include = _include(request)
    picked = log.select(request.query.get("path"), request.query.get("method"))
    body = {"requests": [e.to_json(include) for e in picked], "counts": dict(log.counts)}
    return web.json_response(body)


async def list_runs(request: web.Request) -> web.Response:
    runs = request.app[STATE].runs.all_runs()
    picked = [run_info(r) for r in runs if _matches(r, request.query)]
    return web.json_response({"runs": picked, "count": len(picked)})


def _run(request: web.Request) -> Run:
    run = request.app[STATE].runs.by_id.get(request.match_info["id"])
    if run is None:
        raise ApiError(404, "no such run")
    return run


async def get_run(request: web.Request) -> web.Response:
    return web.json_response(run_info(_run(request)))


async def approve(request: web.Request) -> web.Response:
    run = _run(request)
    request.app[LIFECYCLE].approve(run, request.app[STATE].clock.now())
    return web.json_response(run_info(run))


async def reject(request: web.Request) -> web.Response:
    run = _run(request)
    note = (await _body(request)).get("note")
    if note is not None and not isinstance(note, str):
        raise ApiError(400, "note must be a string")
    request.app[LIFECYCLE].reject(run, note, request.app[STATE].clock.now())
    return web.json_response(run_info(run))


async def redeliver(request: web.Request) -> web.Response:
    state = request.app[STATE]
    event = state.events.latest_for(request.match_info["id"])
    if event is None:
        raise ApiError(404, "no event for this run yet")
    state.dispatcher.submit(event, redelivery=True)
    return web.json_response(event.to_json())


async def deliveries(request: web.Request) -> web.Response:
    state = request.app[STATE]
    run_id, kind = request.query.get("runId"), request.query.get("eventType")
    picked = [
        e.to_json()
        for e in state.events.events
        if (run_id is None or e.subject_id == run_id) and (kind is None or e.event_type == kind)
    ]
    return web.json_response({"deliveries": picked, "idle": state.dispatcher.idle})


async def get_config(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE].config.model_dump(mode="json"))


async def patch_config(request: web.Request) -> web.Response:
    state = request.app[STATE]
    try:
        state.config = state.config.patched(await _body(request))
    except pydantic.ValidationError as exc:
        raise ApiError(400, str(exc)) from None
    return web.json_response(state.config.model_dump(mode="json"))


def _clock_json(request: web.Request) -> Json:
    clock = request.app[STATE].clock
    return {"now": clock.now(), "nowIso": iso(clock.now()), "paused": clock.paused}


async def get_clock(request: web.Request) -> web.Response:
    return web.json_response(_clock_json(request))


async def set_clock(request: web.Request) -> web.Response:
    body = await _body(request)
    state = request.app[STATE]
    if "paused" in body:
        if not isinstance(body["paused"], bool):
            raise ApiError(400, "paused must be a boolean")
        state.clock.set_paused(body["paused"])
    if "advance" in body:
        seconds = body["advance"]
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
            raise ApiError(400, "advance must be a non-negative number of seconds")
        state.clock.advance(float(seconds))
    state.scheduler.clock_changed()
    return web.json_response(_clock_json(request))


async def reset(request: web.Request) -> web.Response:
    request.app[STATE].reset()
    return web.json_response({"ok": True})


async def deploys(request: web.Request) -> web.Response:
    return web.json_response({"deploys": request.app[STATE].deploys})


async def signed_payload(request: web.Request) -> web.Response:
    state = request.app[STATE]
    stored = state.dispatcher.signed.get(request.match_info["token"])
    if stored is None:
        raise ApiError(404, "unknown signed URL")
    if state.clock.now() > stored.expires_at:
        raise ApiError(403, "signed URL expired")
    return web.Response(body=stored.body, content_type="application/json")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/_sandbox/requests", list_requests)
    router.add_get("/_sandbox/runs", list_runs)
    router.add_get("/_sandbox/runs/{id}", get_run)
    router.add_post("/_sandbox/runs/{id}/approve", approve)
    router.add_post("/_sandbox/runs/{id}/reject", reject)
    router.add_post("/_sandbox/runs/{id}/redeliver", redeliver)
    router.add_get("/_sandbox/deliveries", deliveries)
    router.add_get("/_sandbox/config", get_config)
    router.add_post("/_sandbox/config", patch_config)
    router.add_get("/_sandbox/clock", get_clock)
    router.add_post("/_sandbox/clock", set_clock)
    router.add_post("/_sandbox/reset", reset)
    router.add_get("/_sandbox/deploys", deploys)
    router.add_get("/_sandbox/signed/{token}", signed_payload)

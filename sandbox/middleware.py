"""The one middleware: record each platform request, inject faults, render errors per platform."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from sandbox.appkeys import STATE
from sandbox.errors import ApiError, Platform, platform_of, render
from sandbox.ratelimit import retry_after_header
from sandbox.recorder import RecordedRequest
from sandbox.state import SandboxState

log = logging.getLogger(__name__)


def _endpoint(request: web.Request) -> str:
    info = request.match_info.route.resource
    template = info.canonical if info is not None else request.path
    return f"{request.method} {template}"


def _faults_apply(state: SandboxState, request: web.Request) -> bool:
    faults = state.config.faults
    if faults.only_methods and request.method not in {m.upper() for m in faults.only_methods}:
        return False
    return not faults.only_paths or any(request.path.startswith(p) for p in faults.only_paths)


async def _before(state: SandboxState, request: web.Request, entry: RecordedRequest) -> None:
    """Faults that strike before the request is applied: latency, 500, 429."""
    faults = state.config.faults
    rng = state.rng
    if rng.random() < faults.p_latency:
        entry.fault = "latency"
        await asyncio.sleep(faults.latency_seconds)
    if rng.random() < faults.p_500:
        entry.fault = "500"
        raise ApiError(500, "Internal server error (sandbox fault)")
    if rng.random() < faults.p_429:
        entry.fault = "429"
        headers = {}
        if state.config.rate_limits.send_retry_after:
            headers["Retry-After"] = retry_after_header(1.0)
        raise ApiError(429, "Rate limit exceeded (sandbox fault)", headers=headers)


async def _after(
    state: SandboxState, request: web.Request, resp: web.StreamResponse, entry: RecordedRequest
) -> bool:
    """Commit-then-fail: the request was applied, now lose the answer. True if dropped."""
    faults = state.config.faults
    if resp.status >= 300 or state.rng.random() >= faults.p_commit_then_fail:
        return False
    if faults.commit_then_fail == "delay":
        entry.fault = "commit_then_delay"
        await asyncio.sleep(faults.commit_delay_seconds)
        return False
    entry.fault = "commit_then_drop"
    if request.transport is not None:
        request.transport.abort()
    return True


async def _handle(request: web.Request, handler: Handler, platform: Platform) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as error:
        return _render(platform, error)
    except web.HTTPException as exc:
        return _render(platform, ApiError(exc.status, exc.reason))


def _render(platform: Platform, error: ApiError) -> web.Response:
    if platform is Platform.CONTROL:
        return web.json_response({"error": error.message}, status=error.status)
    return render(platform, error)


@web.middleware
async def sandbox_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    platform = platform_of(request.path)
    if platform is Platform.CONTROL:
        return await _handle(request, handler, platform)
    state = request.app[STATE]
    body = await request.read()
    entry = RecordedRequest(
        request.method,
        request.path,
        _endpoint(request),
        request.query_string,
        None,
        state.clock.now(),
        len(body),
        platform.value,
        headers=request.headers,
    )
    state.requests.add(entry, body, state.config.request_log)
    faulty = _faults_apply(state, request)
    try:
        if faulty:
            await _before(state, request, entry)
        resp = await _handle(request, handler, platform)
    except ApiError as error:
        resp = _render(platform, error)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        resp = _render(platform, ApiError(500, "Internal server error"))
    dropped = faulty and await _after(state, request, resp, entry)
    entry.status = None if dropped else resp.status
    return resp

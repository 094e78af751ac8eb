"""What every Extend request passes first: bearer auth, the API version header, rate limits."""

from __future__ import annotations

import hmac
from typing import Any

import orjson
from aiohttp import web

from sandbox.appkeys import STATE
from sandbox.errors import ApiError, bad_request
from sandbox.extend.models import Dialect
from sandbox.ratelimit import retry_after_header
from sandbox.state import SandboxState

VERSION_HEADER = "x-extend-api-version"


def rate_limited(wait: float, state: SandboxState) -> ApiError:
    headers = {}
    if state.config.rate_limits.send_retry_after:
        headers["Retry-After"] = retry_after_header(wait)
    return ApiError(429, "Rate limit exceeded", code="RATE_LIMIT_EXCEEDED", headers=headers)


def gate(request: web.Request, bucket: str) -> Dialect:
    state = request.app[STATE]
    expected = f"Bearer {state.config.extend_api_key}"
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise ApiError(401, "Invalid or missing API key")
    version = request.headers.get(VERSION_HEADER)
    if version is None:
        raise bad_request(f"The {VERSION_HEADER} header is required")
    try:
        dialect = Dialect(version)
    except ValueError:
        supported = ", ".join(d.value for d in Dialect)
        raise bad_request(f"Unsupported API version {version!r}; supported: {supported}") from None
    wait = state.limiter.take_request(bucket, state.config.rate_limits)
    if wait is not None:
        raise rate_limited(wait, state)
    return dialect


async def json_body(request: web.Request, *, allow_empty: bool = False) -> dict[str, Any]:
    raw = await request.read()
    if allow_empty and not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)
    except ValueError:
        raise bad_request("Request body must be valid JSON") from None
    if not isinstance(body, dict):
        raise bad_request("Request body must be a JSON object")
    return body

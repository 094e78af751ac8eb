"""One error type for every platform; the middleware renders it in that platform's body shape."""

from __future__ import annotations

import enum
import secrets
from typing import Any

from aiohttp import web


class Platform(enum.StrEnum):
    EXTEND = "extend"
    EACHLABS = "eachlabs"
    XPANDER = "xpander"
    CONTROL = "control"


_EXTEND_CODES = {
    400: "INVALID_REQUEST",
    401: "UNAUTHORIZED",
    402: "USAGE_BLOCKED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    422: "UNPROCESSABLE_ENTITY",
    429: "RATE_LIMIT_EXCEEDED",
    500: "INTERNAL_ERROR",
}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        retryable: bool | None = None,
        headers: dict[str, str] | None = None,
        detail: Any = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or _EXTEND_CODES.get(status, "ERROR")
        self.retryable = retryable if retryable is not None else status in (429, 500, 503)
        self.headers = headers or {}
        self.detail = detail


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def not_found(message: str) -> ApiError:
    return ApiError(404, message)


def platform_of(path: str) -> Platform:
    if path.startswith("/_sandbox"):
        return Platform.CONTROL
    if path.startswith("/eachlabs"):
        return Platform.EACHLABS
    if path.startswith("/xpander"):
        return Platform.XPANDER
    return Platform.EXTEND


def error_body(platform: Platform, error: ApiError) -> dict[str, Any]:
    if platform is Platform.EACHLABS:
        return {"error": error.message}
    if platform is Platform.XPANDER:
        return {"detail": error.detail if error.detail is not None else error.message}
    body: dict[str, Any] = {
        "code": error.code,
        "message": error.message,
        "retryable": error.retryable,
        "requestId": "req_" + secrets.token_hex(8),
    }
    return body


def render(platform: Platform, error: ApiError) -> web.Response:
    return web.json_response(
        error_body(platform, error), status=error.status, headers=error.headers
    )

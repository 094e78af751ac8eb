"""The HTTP wrapper under every platform client: base URL, headers, timeout, allowed statuses,
one error type.

Every answer's body is read (so connections are reused), and every failure becomes a
PlatformError that says whether it is worth retrying and whether the request may have been
applied anyway (`ambiguous`): the platforms have no idempotency keys, so callers must look
before they retry an ambiguous write.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Collection, Mapping
from typing import Any

import aiohttp
import orjson

from relay_core.ops import metrics

log = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
LARGE_BODY_BYTES = 1024 * 1024


class PlatformError(Exception):
    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        retryable: bool = False,
        ambiguous: bool = False,
        retry_after: float | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.retryable = retryable
        self.ambiguous = ambiguous
        self.retry_after = retry_after
        self.body = body

    def __str__(self) -> str:
        where = f"HTTP {self.status}" if self.status is not None else "no answer"
        return f"{where}: {self.message}"


class PlatformClient:
    """A base URL plus fixed headers; `request()` returns the decoded JSON body."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        headers: Mapping[str, str],
        timeout_seconds: float,
        name: str,
    ) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.headers = dict(headers)
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self.name = name

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        allowed: Collection[int] = (200, 201, 202),
        form: aiohttp.MultipartWriter | None = None,
    ) -> Any:
        """`form`: a multipart body instead of JSON (a file upload: relay_core.batches.filenames)."""
        started = time.perf_counter()
        data = None if json is None else orjson.dumps(json)
        headers = (
            self.headers if data is None else {**self.headers, "content-type": "application/json"}
        )
        write = method.upper() not in ("GET", "HEAD")
        try:
            async with self.session.request(
                method,
                self.base_url + path,
                data=form if form is not None else _body(data),
                params=params,
                headers=headers,
                timeout=self.timeout,
                # A bodiless write claims no content type (aiohttp would label it octet-stream).
                skip_auto_headers=("Content-Type",) if data is None and form is None else (),
            ) as resp:
                raw = await resp.read()
                status, resp_headers = resp.status, resp.headers
        except TimeoutError as exc:
            self._count(method, path, "timeout", started)
            raise PlatformError(
                f"{self.name} {method} {path} timed out", retryable=True, ambiguous=write
            ) from exc
        except aiohttp.ClientError as exc:
            self._count(method, path, "error", started)
            # A dropped connection after the request was sent may have been applied.
            raise PlatformError(
                f"{self.name} {method} {path} failed: {exc.__class__.__name__}",
                retryable=True,
                ambiguous=write and not isinstance(exc, aiohttp.ClientConnectorError),
            ) from exc
        body = _decode(raw)
        self._count(method, path, str(status), started)
        log.debug(
            "%s %s %s -> %d in %.1f ms",
            self.name,
            method,
            path,
            status,
            (time.perf_counter() - started) * 1000,
        )
        if status in allowed:
            return body
        raise _error(self.name, method, path, status, body, resp_headers.get("Retry-After"), write)

    def _count(self, method: str, path: str, status: str, started: float) -> None:
        endpoint = metrics.endpoint_label(path)
        metrics.PLATFORM_REQUESTS.inc(self.name, method.upper(), endpoint, status)
        metrics.PLATFORM_DURATION.observe(time.perf_counter() - started, self.name)


def _body(data: bytes | None) -> bytes | io.BytesIO | None:
    """A body over 1 MiB (a chunk of big texts) as a stream: aiohttp warns that bytes that
    large are written in one go, holding the event loop."""
    return io.BytesIO(data) if data is not None and len(data) > LARGE_BODY_BYTES else data


def _decode(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw[:500].decode("utf-8", "replace")


def _error(
    name: str, method: str, path: str, status: int, body: Any, retry_after: str | None, write: bool
) -> PlatformError:
    code, message = None, None
    if isinstance(body, dict):
        code = body.get("code") if isinstance(body.get("code"), str) else None
        message = body.get("message") or body.get("error") or body.get("detail")
    text = message if isinstance(message, str) else orjson.dumps(message or body).decode()[:500]
    return PlatformError(
        f"{name} {method} {path}: {text}",
        status=status,
        code=code,
        retryable=status in RETRYABLE_STATUSES,
        # A 5xx on a write may come after the platform committed it.
        ambiguous=write and status >= 500,
        retry_after=_seconds(retry_after),
        body=body,
    )


def _seconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None

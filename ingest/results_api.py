"""GET /v1/batches/{id}/results: the batch's results as NDJSON, one line per file in order.

Streamed: each page of files is read, its outputs fetched from the platform
(relay_core.batches.results) and written before the next page is read. `cursor` (a file index)
resumes an interrupted export.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from pydantic import BaseModel, Field

from ingest.appkeys import PLATFORM_HTTP, REDIS, SETTINGS
from ingest.auth import require_api_key
from relay_core.batches import runs as batch_runs
from relay_core.batches import store as batches
from relay_core.batches.results import Results
from relay_core.errors import Unavailable
from relay_core.platforms.extend_runs import ExtendRuns, extend_client
from relay_core.scheduler.ratelimit import Limits, RateLimiter
from relay_core.settings import ConfigError


class ResultsQuery(BaseModel):
    cursor: str | None = Field(None, description="file index to start at (a line's fileIndex+1)")


class ResultLine(BaseModel):
    """One line of the NDJSON stream."""

    fileIndex: int
    file: dict[str, object]
    runId: str | None
    status: str
    reviewed: bool
    failureReason: str | None = None
    outputs: dict[str, object] | None
    outputsError: str | None = None


async def batch_results(request: web.Request) -> web.StreamResponse:
    """A batch's results as NDJSON in file order, with outputs read from the platform."""
    require_api_key(request, "read")
    batch_id = request.match_info["batch_id"]
    redis, settings = request.app[REDIS], request.app[SETTINGS]
    found = await batches.load(redis, batch_id)
    cursor = batch_runs.parse_cursor(request.query.get("cursor"))
    try:
        client = extend_client(request.app[PLATFORM_HTTP], settings)
    except ConfigError as exc:
        raise Unavailable(str(exc), code="not_configured") from None
    results = Results(
        redis,
        ExtendRuns(client, found.get("dialect") or settings.platforms.extend.api_version),
        RateLimiter(redis, Limits.of(settings)),
    )
    files = int(found["files"])
    response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
    response.headers["X-Relay-Files"] = str(files)
    await response.prepare(request)
    cut_at = int(found["cutAt"]) if "cutAt" in found else None
    try:
        async for line in results.lines(batch_id, files, cursor, cut_at):
            await response.write(line)
        await response.write_eof()
    except ConnectionResetError:
        pass  # the caller went away: its cursor resumes the export
    return response


def add_results_routes(add: Callable[..., None]) -> None:
    add(
        "GET /v1/batches/{batch_id}/results",
        batch_results,
        "batch-results",
        ResultLine,
        query=ResultsQuery,
        errors=(400, 404, 503),
        content_type="application/x-ndjson",
    )

"""GET /v1/runs/{runId}: one tracked run."""

from __future__ import annotations

from aiohttp import web

from ingest.appkeys import RUNS
from ingest.auth import require_api_key
from ingest.responses import json_response
from relay_core.errors import NotFound


async def get_run(request: web.Request) -> web.Response:
    require_api_key(request, "read")
    run_id = request.match_info["run_id"]
    run = await request.app[RUNS].get(run_id)
    if run is None:
        raise NotFound(f"no run {run_id!r} is tracked")
    return json_response(run)

"""The evaluations API: recent evaluations and one evaluation's report (read-only).

Evaluations are started by deploys of rules with `[rules.eval]` (worker.deploys.evals); this module
only reads what they stored.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from ingest.appkeys import REDIS
from ingest.auth import require_api_key
from ingest.responses import json_response
from relay_core.errors import NotFound
from relay_core.evals import store
from relay_core.params import parse_limit

DEFAULT_LIMIT = 20
MAX_LIMIT = 200


async def list_evals(request: web.Request) -> web.Response:
    """GET /v1/evals?limit=: the most recent evaluations first, without per-file details."""
    require_api_key(request, "read")
    limit = parse_limit(request.query.get("limit"), DEFAULT_LIMIT, MAX_LIMIT)
    return json_response({"evals": await store.recent(request.app[REDIS], limit)})


async def get_eval(request: web.Request) -> web.Response:
    """GET /v1/evals/{id}: an evaluation with its report (per field, worst files, failed runs)."""
    require_api_key(request, "read")
    eval_id = request.match_info["eval_id"]
    record = await store.load(request.app[REDIS], eval_id)
    if record is None:
        raise NotFound(f"no evaluation {eval_id!r}")
    return json_response(store.view(record))


def add_eval_routes(add: Callable[..., None]) -> None:
    from ingest import version_schemas as vs

    add("GET /v1/evals", list_evals, "evals", vs.EvalList, query=vs.EvalListQuery, errors=(400,))
    add("GET /v1/evals/{eval_id}", get_eval, "eval", vs.EvalView, errors=(404,))

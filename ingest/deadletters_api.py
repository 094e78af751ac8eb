"""The dead letters API: list and read them, redrive one or all of a kind, purge one."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from ingest import schemas as s
from ingest.appkeys import REDIS
from ingest.auth import require_api_key
from ingest.responses import json_response
from relay_core.errors import InvalidRequest, NotFound
from relay_core.ops import deadletters
from relay_core.params import parse_limit

DEFAULT_LIMIT = 50


async def list_dead_letters(request: web.Request) -> web.Response:
    """GET /v1/dead-letters: most recent failure first."""
    require_api_key(request, "read")
    query = request.query
    items, cursor = await deadletters.page(
        request.app[REDIS],
        deadletters.check_kind(query.get("kind") or None),
        query.get("cursor") or None,
        parse_limit(query.get("limit"), DEFAULT_LIMIT, deadletters.MAX_LIMIT),
    )
    return json_response({"deadLetters": items, "nextCursor": cursor})


async def get_dead_letter(request: web.Request) -> web.Response:
    """GET /v1/dead-letters/{id}: one dead letter with what a redrive needs."""
    require_api_key(request, "read")
    found = await deadletters.load(request.app[REDIS], request.match_info["dead_letter_id"])
    return json_response(deadletters.view(found))


async def redrive_one(request: web.Request) -> web.Response:
    """POST /v1/dead-letters/{id}/redrive: queue its job again, with fresh tries."""
    require_api_key(request, "admin")
    did = request.match_info["dead_letter_id"]
    if not await deadletters.redrive(request.app[REDIS], did):
        raise NotFound(f"no dead letter {did!r}")
    return json_response({"redriven": 1, "ids": [did]}, status=202)


async def redrive_kind(request: web.Request) -> web.Response:
    """POST /v1/dead-letters/redrive?kind=: redrive every dead letter of a kind."""
    require_api_key(request, "admin")
    kind = deadletters.check_kind(request.query.get("kind") or None)
    if kind is None:
        raise InvalidRequest("kind is required", code="invalid_kind")
    count = await deadletters.redrive_kind(request.app[REDIS], kind)
    return json_response({"redriven": count, "ids": []}, status=202)


async def purge(request: web.Request) -> web.Response:
    """DELETE /v1/dead-letters/{id}: forget it and drop what it held."""
    require_api_key(request, "admin")
    did = request.match_info["dead_letter_id"]
    if not await deadletters.purge(request.app[REDIS], did):
        raise NotFound(f"no dead letter {did!r}")
    return json_response({"purged": did})


def add_dead_letter_routes(add: Callable[..., None]) -> None:
    """Registered by ingest.routes; kept here so the dead-letter contract reads in one place."""
    add(
        "GET /v1/dead-letters",
        list_dead_letters,
        "dead-letters",
        s.DeadLetterList,
        query=s.DeadLetterQuery,
        errors=(400,),
    )
    add(
        "POST /v1/dead-letters/redrive",
        redrive_kind,
        "dead-letters-redrive",
        s.RedriveAnswer,
        status=202,
        query=s.RedriveQuery,
        errors=(400,),
    )
    add(
        "GET /v1/dead-letters/{dead_letter_id}",
        get_dead_letter,
        "dead-letter",
        s.DeadLetterView,
        errors=(404,),
    )
    add(
        "DELETE /v1/dead-letters/{dead_letter_id}",
        purge,
        "dead-letter-purge",
        s.PurgeAnswer,
        errors=(404,),
    )
    add(
        "POST /v1/dead-letters/{dead_letter_id}/redrive",
        redrive_one,
        "dead-letter-redrive",
        s.RedriveAnswer,
        status=202,
        errors=(404,),
    )

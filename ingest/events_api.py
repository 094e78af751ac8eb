"""The event log API: list logged webhook events, and replay them through the apply job."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from ingest import schemas as s
from ingest.appkeys import REDIS, SETTINGS
from ingest.auth import require_api_key
from ingest.bodies import read_object
from ingest.responses import json_response
from relay_core.errors import InvalidRequest
from relay_core.ops import metrics
from relay_core.params import parse_limit, parse_offset
from relay_core.redis import queue
from relay_core.runs import eventlog

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


async def list_events(request: web.Request) -> web.Response:
    """GET /v1/events?since=&type=&run=: logged events, oldest first."""
    require_api_key(request, "read")
    query = request.query
    limit = parse_limit(query.get("limit"), DEFAULT_LIMIT, MAX_LIMIT)
    offset = parse_offset(query.get("cursor"))
    found = await _select(request, query.get("since"), query.get("type"), query.get("run"))
    page = found[offset : offset + limit]
    more = offset + limit < len(found)
    next_cursor = str(offset + limit) if more else None
    return json_response({"events": [e.view() for e in page], "nextCursor": next_cursor})


async def replay_events(request: web.Request) -> web.Response:
    """POST /v1/events/replay {"since", "type"?, "run"?}: apply logged events again."""
    require_api_key(request, "admin")
    body = await read_object(request)
    found = await _select(request, body.get("since"), body.get("type"), body.get("run"))
    groups = await eventlog.replay(request.app[REDIS], found)
    metrics.EVENTS_REPLAYED.inc(amount=float(len(found)))
    return json_response({"events": len(found), "groups": groups}, status=202)


async def _select(
    request: web.Request, since: object, event_type: object, run: object
) -> list[eventlog.Logged]:
    since_s, type_s, run_s = (
        _text(n, v) for n, v in (("since", since), ("type", event_type), ("run", run))
    )
    now = queue.now_ms()
    window = request.app[SETTINGS].retention.event_log_ms or eventlog.HOUR_MS
    since_ms = eventlog.parse_since(since_s, now, window)
    return await eventlog.read(request.app[REDIS], since_ms, now, type_s, run_s)


def _text(name: str, value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidRequest(f"{name} must be a string")
    return value


def add_event_routes(add: Callable[..., None]) -> None:
    """Registered by ingest.routes; kept here so the event log contract reads in one place."""
    add(
        "GET /v1/events",
        list_events,
        "events",
        s.EventList,
        query=s.EventQuery,
        errors=(400,),
    )
    add(
        "POST /v1/events/replay",
        replay_events,
        "events-replay",
        s.ReplayAnswer,
        status=202,
        body=s.ReplayRequest,
        errors=(400,),
    )

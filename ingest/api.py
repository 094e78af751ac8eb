"""The route registry: one `add()` per route declares its handler, auth and body models.

routes.py registers every route through here and the OpenAPI generator (ingest.openapi) reads
the same specs, so the document cannot drift from what is served. /v1 handlers are wrapped
with an access-log line and request metrics; the webhook is not (its hot path stays bare).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from aiohttp import web
from pydantic import BaseModel

from ingest.responses import Handler
from relay_core.errors import ApiError
from relay_core.ops import metrics

log = logging.getLogger("ingest.access")
Auth = Literal["none", "bearer", "webhook", "metrics"]
Body = type[BaseModel] | None
# Each auth's error statuses, added to every route's documented answers.
_AUTH_ERRORS: dict[str, tuple[int, ...]] = {
    "none": (),
    "bearer": (401, 403),
    "webhook": (400, 401, 413, 503),
    "metrics": (401,),
}


@dataclass(frozen=True, slots=True)
class RouteSpec:
    method: str
    path: str
    name: str
    summary: str
    auth: Auth
    responses: Mapping[int, Body]
    body: Body = None
    query: Body = None
    content_type: str = "application/json"
    errors: tuple[int, ...] = field(default=())
    deprecated: str = ""  # what replaces the route, when it is kept only as an alias


class RouteBook(list[RouteSpec]):
    """The app's route specs, in registration order."""


SPECS = web.AppKey("route_specs", RouteBook)


def add(
    app: web.Application,
    route: str,
    handler: Handler,
    name: str,
    ok: Body,
    *,
    status: int = 200,
    auth: Auth = "bearer",
    body: Body = None,
    query: Body = None,
    errors: tuple[int, ...] = (),
    content_type: str = "application/json",
    deprecated: str = "",
) -> None:
    """Serve `handler` at `route` ("GET /v1/x") and record its contract.

    `errors` lists error statuses beyond the auth's own; the summary is the handler's docstring.
    `deprecated` marks an alias kept for a release and says what replaces it.
    """
    method, path = route.split(" ", 1)
    responses: dict[int, Body] = {status: ok}
    if status == 202:
        responses[200] = ok  # "already done" answers share the body
    spec = RouteSpec(
        method,
        path,
        name,
        _summary(handler),
        auth,
        responses,
        body,
        query,
        content_type,
        tuple(sorted({*_AUTH_ERRORS[auth], *errors})),
        deprecated,
    )
    if SPECS not in app:
        app[SPECS] = RouteBook()
    app[SPECS].append(spec)
    if path.startswith("/v1/"):
        handler = _logged(name, handler)
    app.router.add_route(method, path, handler, name=name)


def _summary(handler: Handler) -> str:
    doc = handler.__doc__ or sys.modules[handler.__module__].__doc__ or ""
    return " ".join(doc.strip().split("\n\n", 1)[0].split())  # the first paragraph


def _logged(route: str, handler: Handler) -> Handler:
    async def wrapper(request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except ApiError as exc:
            status = exc.status
            raise
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            seconds = time.perf_counter() - started
            metrics.HTTP_REQUESTS.inc(route, str(status))
            metrics.HTTP_DURATION.observe(seconds, route)
            # Path and status only: never the Authorization header, a query or a body.
            log.info(
                "request method=%s route=%s path=%s status=%d ms=%.1f",
                request.method,
                route,
                request.path,
                status,
                seconds * 1000,
            )

    return wrapper

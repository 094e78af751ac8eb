"""Notifications out: standing subscriptions and their delivery attempts.

A subscription's secret is answered once, at creation. Deleting one needs the `admin` scope;
creating one `submit`; reads `read`. Dead deliveries are dead letters like any other
(ingest.deadletters_api, kind `notification`); the two /v1/notifications/dead routes are
deprecated aliases kept for one release.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from ingest import notify_schemas as m
from ingest.appkeys import REDIS, SETTINGS
from ingest.auth import require_api_key
from ingest.bodies import read_body
from ingest.responses import json_response
from relay_core.batches.models import describe
from relay_core.errors import InvalidRequest
from relay_core.notify import dead, delivery, ssrf, store
from relay_core.notify import events as ev

MAX_BODY = 64 * 1024
T = TypeVar("T", bound=BaseModel)
ALIAS = (
    "Deprecated alias of /v1/dead-letters?kind=notification{}, answering from the same store;"
    " it goes in the next release."
)


async def _body(request: web.Request, model: type[T]) -> T:
    raw = await read_body(request, MAX_BODY)
    try:
        return model.model_validate(orjson.loads(raw or b"{}"))
    except orjson.JSONDecodeError:
        raise InvalidRequest("body must be a JSON object") from None
    except ValidationError as exc:
        raise InvalidRequest(describe(exc)) from None


async def create_subscription(request: web.Request) -> web.Response:
    """Subscribe a URL to notification events; the answer carries its secret, once."""
    key = require_api_key(request, "submit")
    body = await _body(request, m.SubscriptionRequest)
    await ssrf.check_url_resolved(body.url, request.app[SETTINGS].notify.allowed_hosts)
    events: list[str] = list(body.events) if body.events else list(ev.ALL_EVENTS)
    created = await store.create_subscription(request.app[REDIS], body.url, events, key.name)
    return json_response(created, status=201)


async def list_subscriptions(request: web.Request) -> web.Response:
    """Every subscription, oldest first, each with whether it is enabled."""
    require_api_key(request, "read")
    return json_response({"subscriptions": await store.list_subscriptions(request.app[REDIS])})


async def get_subscription(request: web.Request) -> web.Response:
    """One subscription (never its secret)."""
    require_api_key(request, "read")
    sub_id = request.match_info["sub_id"]
    return json_response(await store.get_subscription(request.app[REDIS], sub_id))


async def delete_subscription(request: web.Request) -> web.Response:
    """Stop a subscription; deliveries still queued for it are dropped."""
    require_api_key(request, "admin")
    sub_id = request.match_info["sub_id"]
    await store.delete_subscription(request.app[REDIS], sub_id)
    return json_response({"deleted": sub_id})


async def list_attempts(request: web.Request) -> web.Response:
    """A subscription's latest delivery attempts, newest first (the last 100)."""
    require_api_key(request, "read")
    sub_id = request.match_info["sub_id"]
    redis = request.app[REDIS]
    await store.get_subscription(redis, sub_id)  # 404 for an unknown one
    return json_response({"attempts": await delivery.attempts(redis, sub_id)})


async def list_dead_letters(request: web.Request) -> web.Response:
    """Notifications given up after their last attempt, newest first (deprecated alias)."""
    require_api_key(request, "read")
    return json_response({"deadLetters": await dead.listing(request.app[REDIS])})


async def redrive_dead_letters(request: web.Request) -> web.Response:
    """Send dead notifications again, with the same webhook-id (deprecated alias)."""
    require_api_key(request, "admin")
    body = await _body(request, m.RedriveRequest)
    count = await dead.redrive_ids(request.app[REDIS], body.deliveryIds)
    return json_response({"redriven": count})


def add_notify_routes(add: Callable[..., None]) -> None:
    """Registered by ingest.routes; the notification contract reads in one place."""
    add(
        "POST /v1/subscriptions",
        create_subscription,
        "subscriptions",
        m.SubscriptionCreated,
        status=201,
        body=m.SubscriptionRequest,
        errors=(400, 413),
    )
    add("GET /v1/subscriptions", list_subscriptions, "subscription-list", m.SubscriptionList)
    add(
        "GET /v1/subscriptions/{sub_id}",
        get_subscription,
        "subscription",
        m.SubscriptionView,
        errors=(404,),
    )
    add(
        "DELETE /v1/subscriptions/{sub_id}",
        delete_subscription,
        "subscription-delete",
        m.Deleted,
        errors=(404,),
    )
    add(
        "GET /v1/subscriptions/{sub_id}/attempts",
        list_attempts,
        "subscription-attempts",
        m.AttemptList,
        errors=(404,),
    )
    add(
        "GET /v1/notifications/dead",
        list_dead_letters,
        "notification-dead-letters",
        m.NotificationDeadLetterList,
        deprecated=ALIAS.format(""),
    )
    add(
        "POST /v1/notifications/dead/redrive",
        redrive_dead_letters,
        "notification-redrive",
        m.NotificationRedriveAnswer,
        body=m.RedriveRequest,
        errors=(400, 413),
        deprecated=ALIAS.format(" (POST /v1/dead-letters/redrive?kind=notification)"),
    )

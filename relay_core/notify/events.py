"""The notification event types, their ids and the body every notification carries."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import orjson

BATCH_COMPLETED = "batch.completed"
BATCH_CANCELLED = "batch.cancelled"
RUN_COMPLETED = "run.completed"
REVIEW_COMPLETED = "review.completed"
DEPLOY_SUCCEEDED = "deploy.succeeded"
DEPLOY_FAILED = "deploy.failed"

ALL_EVENTS: tuple[str, ...] = (
    BATCH_COMPLETED,
    BATCH_CANCELLED,
    RUN_COMPLETED,
    REVIEW_COMPLETED,
    DEPLOY_SUCCEEDED,
    DEPLOY_FAILED,
)
# What a batch's own callback can be told about (deploys belong to rules, not batches).
BATCH_EVENTS: tuple[str, ...] = (BATCH_COMPLETED, BATCH_CANCELLED, RUN_COMPLETED, REVIEW_COMPLETED)
# A callback without callbackEvents hears when its batch is done, not about each of its runs.
DEFAULT_BATCH_EVENTS: tuple[str, ...] = (BATCH_COMPLETED, BATCH_CANCELLED)


def message_id(event_type: str, subject: str) -> str:
    """The webhook-id: one per (event, subject), so a re-emitted event is the same message."""
    digest = hashlib.sha256(f"{event_type}\0{subject}".encode()).hexdigest()[:26]
    return "msg_" + digest


def body(event_type: str, data: dict[str, Any], now_ms: int) -> bytes:
    """The payload shape Standard Webhooks recommends: {type, timestamp, data}."""
    stamp = datetime.fromtimestamp(now_ms / 1000, UTC).isoformat(timespec="milliseconds")
    return orjson.dumps(
        {"type": event_type, "timestamp": stamp.replace("+00:00", "Z"), "data": data}
    )


def parse_events(raw: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    """A stored comma list of event types (absent: the default)."""
    if raw is None:
        return default
    return tuple(e for e in raw.split(",") if e)

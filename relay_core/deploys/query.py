"""Listing deploys newest first, by rule and status, with an opaque cursor.

The cursor is the (score, id) of the last deploy returned: Redis orders a sorted set by score
then member, so "after the cursor" stays exact while new deploys are being added.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from relay_core import keys
from relay_core.deploys import store as deploys
from relay_core.errors import InvalidRequest

CHUNK = 200
MAX_EXAMINED = 5000  # bounds one request's work when a status filter matches little


@dataclass(slots=True, frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


def encode_cursor(score: int, member: str) -> str:
    return base64.urlsafe_b64encode(f"{score}:{member}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        score, member = text.split(":", 1)
        return int(score), member
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidRequest("cursor is not one this API returned", code="invalid_cursor") from None


async def list_deploys(
    redis: Redis, *, rule: str | None, status: str | None, cursor: str | None, limit: int
) -> Page:
    if status is not None and status not in deploys.STATUSES:
        allowed = ", ".join(sorted(deploys.STATUSES))
        raise InvalidRequest(f"status must be one of {allowed}", code="invalid_status")
    index = keys.deploys_by_rule(rule) if rule else keys.DEPLOYS
    after = decode_cursor(cursor) if cursor else None
    items: list[dict[str, Any]] = []
    examined = 0
    while len(items) < limit and examined < MAX_EXAMINED:
        chunk = await _after(redis, index, after)
        if not chunk:
            return Page(items, None)
        for member, score in chunk:
            examined += 1
            after = (score, member)
            record = await deploys.load(redis, member)
            if record is not None and (status is None or record.get("status") == status):
                items.append(deploys.view(record))
                if len(items) == limit:
                    break
    return Page(items, encode_cursor(*after) if after else None)


async def _after(redis: Redis, index: str, after: tuple[int, str] | None) -> list[tuple[str, int]]:
    top = "+inf" if after is None else str(after[0])
    raw = await redis.zrevrangebyscore(index, top, "-inf", start=0, num=CHUNK, withscores=True)
    out = [(m.decode(), int(s)) for m, s in raw]
    if after is not None:
        # Same score as the cursor: only members ordered after it (reverse lexical order).
        out = [(m, s) for m, s in out if s < after[0] or m < after[1]]
        if not out and len(raw) == CHUNK:
            # A full chunk of ties already seen: step past this score.
            top = f"({after[0]}"
            raw = await redis.zrevrangebyscore(
                index, top, "-inf", start=0, num=CHUNK, withscores=True
            )
            out = [(m.decode(), int(s)) for m, s in raw]
    return out

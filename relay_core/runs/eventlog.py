"""The event log: every applied webhook body, kept EVENT_LOG_DAYS, compactly, for replay.

The worker logs a group's bodies when it applies them (the same pipeline that deletes the
group), as one zlib-compressed field per group in an hourly hash that expires EVENT_LOG_DAYS
after its hour ends: a group of many similar bodies compresses several times, and nothing is
added to the webhook's hot path. A replay puts logged bodies into new event groups
(`replay-...`) that go through the same apply job; apply is idempotent, so replaying any
window leaves the state as it was, and after a fix to the apply logic a replay repairs it.
"""

from __future__ import annotations

import re
import uuid
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from redis.asyncio import Redis

from relay_core import keys
from relay_core.errors import InvalidRequest
from relay_core.redis import queue

HOUR_MS = 3_600_000
REPLAY_PREFIX = "replay-"
REPLAY_GROUP_SIZE = 500
MAX_REPLAY = 100_000
_DURATION = re.compile(r"^([0-9]{1,6})([smhd])$")
_UNIT_MS = {"s": 1000, "m": 60_000, "h": HOUR_MS, "d": 24 * HOUR_MS}


def is_replay(group_id: str) -> bool:
    return group_id.startswith(REPLAY_PREFIX)


def queue_log(pipe: Any, group_id: str, bodies: list[bytes], now_ms: int, keep_ms: int) -> None:
    """Add the group's bodies to the log on `pipe` (nothing when the log is off)."""
    if keep_ms <= 0 or not bodies:
        return
    hour = now_ms // HOUR_MS
    packed = orjson.dumps({"at": now_ms, "bodies": [b.decode(errors="replace") for b in bodies]})
    key = keys.event_log(hour)
    pipe.hset(key, group_id, zlib.compress(packed, 6))
    pipe.pexpireat(key, (hour + 1) * HOUR_MS + keep_ms)


def parse_since(raw: str | None, now_ms: int, default_ms: int) -> int:
    """`since` as RFC 3339 (2026-11-29T10:00:00Z) or a duration back from now (90s, 30m, 2h,
    3d); absent: `default_ms` back."""
    if raw is None or raw == "":
        return now_ms - default_ms
    match = _DURATION.match(raw)
    if match:
        return now_ms - int(match.group(1)) * _UNIT_MS[match.group(2)]
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest(
            "since must be RFC 3339 or a duration such as 30m, 2h, 3d", code="invalid_since"
        ) from None
    if parsed.tzinfo is None:
        raise InvalidRequest("since needs a time zone (Z or +hh:mm)", code="invalid_since")
    return int(parsed.timestamp() * 1000)


@dataclass(slots=True, frozen=True)
class Logged:
    at: int
    event_id: str
    event_type: str
    run_id: str | None
    body: bytes

    def view(self) -> dict[str, Any]:
        return {
            "eventId": self.event_id,
            "eventType": self.event_type,
            "runId": self.run_id,
            "loggedAt": _iso(self.at),
        }


async def read(
    redis: Redis, since_ms: int, now_ms: int, event_type: str | None, run_id: str | None
) -> list[Logged]:
    """Logged events from `since_ms` on, oldest first, filtered by type and run."""
    out: list[Logged] = []
    for hour in range(since_ms // HOUR_MS, now_ms // HOUR_MS + 1):
        groups: dict[bytes, bytes] = await redis.hgetall(keys.event_log(hour))  # type: ignore[misc]
        for packed in groups.values():
            out += _matching(_unpack(packed), since_ms, event_type, run_id)
    out.sort(key=lambda e: e.at)
    return out


def _unpack(packed: bytes) -> tuple[int, list[str]]:
    data = orjson.loads(zlib.decompress(packed))
    return int(data["at"]), list(data["bodies"])


def _matching(
    group: tuple[int, list[str]], since_ms: int, event_type: str | None, run_id: str | None
) -> list[Logged]:
    at, bodies = group
    if at < since_ms:
        return []
    found = []
    for body in bodies:
        data = orjson.loads(body)
        payload = data.get("payload") if isinstance(data.get("payload"), dict) else {}
        run = payload.get("workflowRunId") or payload.get("id")
        logged = Logged(
            at, str(data.get("eventId")), str(data.get("eventType")), run, body.encode()
        )
        if event_type and logged.event_type != event_type:
            continue
        if run_id and logged.run_id != run_id:
            continue
        found.append(logged)
    return found


async def replay(redis: Redis, events: list[Logged]) -> int:
    """Queue the events again as new groups through the apply job; return how many groups."""
    if len(events) > MAX_REPLAY:
        raise InvalidRequest(f"at most {MAX_REPLAY} events per replay: narrow the window")
    now = queue.now_ms()
    groups = 0
    async with redis.pipeline(transaction=True) as pipe:
        for start in range(0, len(events), REPLAY_GROUP_SIZE):
            group_id = REPLAY_PREFIX + uuid.uuid4().hex
            job_id = queue.apply_events_job_id(group_id)
            pipe.rpush(keys.event_group(group_id), *(e.body for e in events[start : start + 500]))
            job = queue.job_bytes(queue.APPLY_EVENTS, [group_id], now)
            pipe.set(queue.JOB_KEY_PREFIX + job_id, job, px=queue.JOB_EXPIRES_MS)
            pipe.zadd(queue.QUEUE, {job_id: queue.events_score(now)})
            groups += 1
        await pipe.execute()
    return groups


def _iso(ms: int) -> str:
    from datetime import UTC

    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")

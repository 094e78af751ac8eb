"""R4: hypothesis-generated malformed, forged, stale, oversized and truncated deliveries.

Every one must get a 4xx with the JSON error body, and nothing may be queued.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from ingest.app import create_app
from tests.conftest import make_settings
from tests.support.signing import extend_headers

MAX_BODY = 4096
TS, SIG = "x-extend-request-timestamp", "x-extend-request-signature"
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=10,
)


@st.composite
def bad_delivery(draw: st.DrawFn) -> tuple[str, bytes, dict[str, str]]:
    envelope = {
        "eventId": draw(
            st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=30)
        ),
        "eventType": "workflow_run.completed",
        "payload": draw(st.dictionaries(text, json_values, max_size=5)),
    }
    body = orjson.dumps(envelope)
    kind = draw(
        st.sampled_from(
            [
                "forged",
                "stale",
                "future",
                "truncated",
                "oversized",
                "not_json",
                "bad_envelope",
                "missing_header",
                "garbage_header",
                "tampered",
            ]
        )
    )
    headers = extend_headers(body)
    # Stale/future margins are wide because all cases are drawn before any is sent.
    if kind == "forged":
        headers[SIG] = draw(st.text(alphabet="0123456789abcdef", min_size=64, max_size=64))
    elif kind == "stale":
        headers = extend_headers(body, timestamp=int(time.time()) - draw(st.integers(900, 10**9)))
    elif kind == "future":
        headers = extend_headers(body, timestamp=int(time.time()) + draw(st.integers(900, 10**9)))
    elif kind == "truncated":
        body = body[: draw(st.integers(0, len(body) - 1))]
    elif kind == "oversized":
        body = body + b" " * draw(st.integers(MAX_BODY, MAX_BODY * 3))
        headers = extend_headers(body)
    elif kind == "not_json":
        body = draw(st.binary(max_size=200).filter(lambda b: not _is_json_object(b)))
        headers = extend_headers(body)
    elif kind == "bad_envelope":
        body = orjson.dumps(draw(json_values.filter(lambda v: not _valid_envelope(v))))
        headers = extend_headers(body)
    elif kind == "missing_header":
        del headers[draw(st.sampled_from([TS, SIG]))]
    elif kind == "garbage_header":
        headers[draw(st.sampled_from([TS, SIG]))] = draw(
            st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80)
        )
    elif kind == "tampered":
        body = body.replace(b"workflow_run", b"workflow_ran")
    return kind, body, headers


def _is_json_object(raw: bytes) -> bool:
    try:
        return isinstance(orjson.loads(raw), dict)
    except orjson.JSONDecodeError:
        return False


def _valid_envelope(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("eventId"), str)
        and isinstance(value.get("eventType"), str)
        and isinstance(value.get("payload"), dict)
    )


def generate(count: int) -> list[tuple[str, bytes, dict[str, str]]]:
    """Draw the cases up front (hypothesis runs sync code); the test then sends each one."""
    cases: list[tuple[str, bytes, dict[str, str]]] = []

    @settings(
        max_examples=count, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(case=bad_delivery())
    def collect(case: tuple[str, bytes, dict[str, str]]) -> None:
        cases.append(case)

    collect()
    return cases


async def test_no_bad_delivery_is_queued_or_answered_5xx(redis_url: str, redis: Redis) -> None:
    cases = generate(2200)
    app = create_app(make_settings(redis_url, WEBHOOK_MAX_BODY_BYTES=MAX_BODY))
    seen: dict[str, int] = {}
    async with TestClient(TestServer(app)) as client:
        for kind, body, headers in cases:
            resp = await client.post("/webhooks/extend", data=body, headers=headers)
            assert 400 <= resp.status < 500, (kind, resp.status, body[:200], headers)
            error = (await resp.json())["error"]
            assert isinstance(error["code"], str)
            assert isinstance(error["message"], str)
            seen[kind] = seen.get(kind, 0) + 1
    assert sum(seen.values()) >= 2000
    assert len(seen) == 10
    assert await redis.zcard("arq:queue") == 0
    assert await redis.keys("relay:evt:*") == []

"""GET /metrics: the web's and the worker's figures, through Redis, in Prometheus text."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from ingest.app import create_app
from relay_core.logs import JsonFormatter
from relay_core.ops import metrics
from relay_core.platforms.http import PlatformClient, PlatformError
from relay_core.redis import queue
from relay_core.settings import Settings
from tests.conftest import API_KEY, auth, make_settings, run_worker_burst
from tests.support.signing import event, extend_headers, run_payload


@pytest.fixture(autouse=True)
def clean_tally() -> Iterator[None]:
    # Increments other tests left unflushed in this process must not land in this test's Redis.
    metrics.TALLY.take()
    yield
    metrics.TALLY.take()


async def scrape(client: TestClient[Any, Any], **headers: str) -> dict[tuple[str, str], float]:
    resp = await client.get("/metrics", headers=headers)
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    out: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(await resp.text()):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            out[(sample.name, labels)] = sample.value
    return out


async def post_event(client: TestClient[Any, Any], event_id: str, kind: str, status: str) -> int:
    body = event(event_id, kind, run_payload(f"run_{event_id}", status))
    resp = await client.post("/webhooks/extend", data=body, headers=extend_headers(body))
    return resp.status


async def test_webhook_events_and_jobs_reach_metrics(
    client: TestClient[Any, Any], settings: Settings
) -> None:
    assert await post_event(client, "e1", "workflow_run.completed", "PROCESSED") == 200
    assert await post_event(client, "e1", "workflow_run.completed", "PROCESSED") == 200
    assert await post_event(client, "e2", "workflow_run.needs_review", "NEEDS_REVIEW") == 200
    bad = await client.post("/webhooks/extend", data=b"{}", headers={"content-type": "x"})
    assert bad.status == 401
    before = await scrape(client)
    assert before[("relay_queue_depth", "")] >= 1
    assert before[("relay_worker_up", "")] == 0
    await run_worker_burst(settings)  # a separate "process": counts via Redis only
    got = await scrape(client)
    assert got[("relay_webhook_requests_total", "outcome=queued")] == 2
    assert got[("relay_webhook_requests_total", "outcome=duplicate")] == 1
    assert got[("relay_webhook_requests_total", "outcome=invalid_signature")] == 1
    assert got[("relay_events_total", "type=workflow_run.completed")] == 1
    assert got[("relay_events_total", "type=workflow_run.needs_review")] == 1
    assert got[("relay_jobs_total", "function=apply_events,outcome=ok")] >= 1
    count = got[("relay_job_duration_seconds_count", "function=apply_events")]
    assert got[("relay_job_duration_seconds_bucket", "function=apply_events,le=+Inf")] == count
    assert got[("relay_queue_depth", "")] == 0
    assert got[("relay_queue_oldest_job_age_seconds", "")] == 0


async def test_queue_age_counts_from_the_oldest_enqueue(
    client: TestClient[Any, Any], redis: Redis
) -> None:
    now = queue.now_ms()
    # An event group is scored ahead of its enqueue time: its age still counts from the enqueue.
    events = queue.apply_events_job_id("g1")
    await redis.zadd(queue.QUEUE, {events: queue.events_score(now - 5_000), "new": now})
    await redis.zadd(queue.QUEUE, {"old": now - 90_000})
    got = await scrape(client)
    assert got[("relay_queue_depth", "")] == 3
    assert 89 <= got[("relay_queue_oldest_job_age_seconds", "")] < 120
    await redis.zrem(queue.QUEUE, "old")
    assert 4 <= (await scrape(client))[("relay_queue_oldest_job_age_seconds", "")] < 30


async def test_api_requests_are_counted_and_logged_without_the_key(
    client: TestClient[Any, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="ingest.access"):
        assert (await client.get("/v1/runs/nope", headers=auth())).status == 404
        assert (await client.get("/v1/deploys?limit=x", headers=auth())).status == 400
    lines = [r.getMessage() for r in caplog.records if r.name == "ingest.access"]
    assert any("route=run path=/v1/runs/nope status=404" in line for line in lines)
    assert not any(API_KEY in line for line in lines)
    got = await scrape(client)
    assert got[("relay_http_requests_total", "route=run,status=404")] == 1
    assert got[("relay_http_requests_total", "route=deploys,status=400")] == 1


async def test_metrics_token_when_set(redis_url: str, redis: Redis) -> None:
    settings = make_settings(redis_url, METRICS_TOKEN="scrape-me")
    async with TestClient(TestServer(create_app(settings))) as client:
        assert (await client.get("/metrics")).status == 401
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status == 401
        assert (await wrong.json())["error"]["code"] == "unauthorized"
        await scrape(client, Authorization="Bearer scrape-me")


@pytest.fixture
async def platform() -> AsyncIterator[str]:
    """A stand-in platform on loopback: 200 for GETs, 429 for the POST."""

    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"id": request.match_info["wid"]})

    async def busy(request: web.Request) -> web.Response:
        return web.json_response({"message": "slow down"}, status=429)

    app = web.Application()
    app.router.add_get("/workflows/{wid}", ok)
    app.router.add_post("/workflows/{wid}/versions", busy)
    async with TestServer(app, host="127.0.0.1") as server:
        yield str(server.make_url(""))


async def test_platform_calls_by_endpoint_and_status(
    platform: str, client: TestClient[Any, Any]
) -> None:
    async with aiohttp.ClientSession() as session:
        api = PlatformClient(session, platform, {}, 5.0, "extend")
        await api.request("GET", "/workflows/workflow_Ab12")
        await api.request("GET", "/workflows/workflow_Cd34")
        with pytest.raises(PlatformError):
            await api.request("POST", "/workflows/workflow_Ab12/versions", json={})
    metrics.RATE_LIMIT_WAITS.inc("extend-run")
    got = await scrape(client)
    get = "endpoint=/workflows/{id},method=GET,platform=extend,status=200"
    post = "endpoint=/workflows/{id}/versions,method=POST,platform=extend,status=429"
    assert got[("relay_platform_requests_total", get)] == 2
    assert got[("relay_platform_requests_total", post)] == 1
    assert got[("relay_platform_request_duration_seconds_count", "platform=extend")] == 3
    assert got[("relay_rate_limit_waits_total", "limit=extend-run")] == 1


@pytest.mark.parametrize(
    ("path", "label"),
    [
        ("/workflow_runs", "/workflow_runs"),
        ("/workflow_runs/workflow_run_x", "/workflow_runs/{id}"),
        ("/v1/workflows/0b0c5d1e-3f59", "/v1/workflows/{id}"),
        ("/workflows/wf/versions/v12", "/workflows/{id}/versions/{id}"),
        ("/batch/abc?x=1", "/batch/{id}"),
    ],
)
def test_endpoint_labels_hide_ids(path: str, label: str) -> None:
    assert metrics.endpoint_label(path) == label


async def test_unflushed_counts_survive_a_redis_failure(redis_url: str) -> None:
    dead = Redis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=0.5)
    metrics.WEBHOOK_REQUESTS.inc("queued")
    assert await metrics.TALLY.flush(dead) == 0
    await dead.aclose()
    live = Redis.from_url(redis_url)
    await live.flushdb()
    assert await metrics.TALLY.flush(live) == 1
    await live.aclose()


def test_json_logs_carry_the_key_value_fields() -> None:
    record = logging.LogRecord(
        "ingest.access",
        logging.INFO,
        __file__,
        1,
        "request route=%s status=%d ms=%.1f",
        ("run", 404, 1.25),
        None,
    )
    line = orjson.loads(JsonFormatter().format(record))
    assert line["msg"] == "request route=run status=404 ms=1.2"
    assert (line["event"], line["route"], line["status"], line["ms"]) == (
        "request",
        "run",
        404,
        1.2,
    )

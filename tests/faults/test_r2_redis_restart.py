"""R2: Redis stopped and restarted while the sandbox delivers 1,000 webhooks (retrying).

Every acknowledged event is applied, the deliveries refused with 503 are applied after
redelivery, and each event is applied exactly once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from relay_core import keys
from relay_core.redis.client import connect
from relay_core.runs.store import run_view
from sandbox import SandboxConfig, start_sandbox
from tests.conftest import make_settings, run_worker_burst
from tests.support.procs import RelayProcess
from tests.support.redis_server import RedisServer, free_port
from tests.support.wait import until

RUNS = 1000
WORKFLOW = "workflow_r2"


@pytest.fixture
def durable_redis() -> Iterator[RedisServer]:
    server = RedisServer(durable=True).start()
    yield server
    server.stop()


async def deliveries(session: aiohttp.ClientSession, base: str) -> list[dict[str, Any]]:
    async with session.get(f"{base}/_sandbox/deliveries") as resp:
        data = await resp.json()
    return list(data["deliveries"] if isinstance(data, dict) else data)


async def test_redis_restart_during_deliveries(durable_redis: RedisServer) -> None:
    port = free_port()
    secret = "wss_r2_secret"
    env = {
        "REDIS_URL": durable_redis.url,
        "PORT": str(port),
        "EXTEND_WEBHOOK_SECRETS": secret,
        "RELAY_API_KEYS": "k",
        "LOG_LEVEL": "WARNING",
    }
    web = RelayProcess(["web", "--host", "127.0.0.1"], env, port).start()
    config = SandboxConfig.model_validate(
        {
            "webhook_urls": [f"http://127.0.0.1:{port}/webhooks/extend"],
            "webhook_secret": secret,
            "processing": {"pending_seconds": 0.0, "processing_seconds": 0.0},
            "webhooks": {
                "max_attempts": 60,
                "backoff_base_seconds": 0.05,
                "backoff_max_seconds": 0.5,
                "timeout_seconds": 10,
                "concurrency": 8,
            },
            "workflows": {"extend": [{"id": WORKFLOW, "name": "R2"}]},
        }
    )
    try:
        async with await start_sandbox(config, port=0) as sb, aiohttp.ClientSession() as session:
            headers = {"Authorization": "Bearer sk_sandbox", "x-extend-api-version": "2026-02-09"}
            body = {
                "workflow": {"id": WORKFLOW},
                "inputs": [
                    {"file": {"url": f"https://files.invalid/{i}.pdf"}} for i in range(RUNS)
                ],
            }
            async with session.post(
                f"{sb.base_url}/workflow_runs/batch", json=body, headers=headers
            ) as resp:
                assert resp.status == 200, await resp.text()

            async def some_acknowledged() -> bool:
                return (
                    sum(d["delivered"] for d in await deliveries(session, sb.base_url)) >= RUNS // 5
                )

            await until(some_acknowledged, within=90)
            durable_redis.stop()

            async def some_refused() -> bool:
                found = await deliveries(session, sb.base_url)
                return sum(any(a["status"] == 503 for a in d["attempts"]) for d in found) >= 5

            await until(some_refused, within=90)
            durable_redis.start()

            async def all_delivered() -> bool:
                found = await deliveries(session, sb.base_url)
                return len(found) >= RUNS and all(d["delivered"] for d in found)

            await until(all_delivered, within=90)
            final = await deliveries(session, sb.base_url)
    finally:
        web.kill()

    refused_then_applied = [d for d in final if any(a["status"] == 503 for a in d["attempts"])]
    assert refused_then_applied, "the outage refused no delivery: the test did not test anything"
    await run_worker_burst(make_settings(durable_redis.url))
    redis = connect(durable_redis.url)
    try:
        for d in final:
            raw = await redis.hgetall(keys.run(d["runId"]))  # type: ignore[misc]
            run = run_view(d["runId"], {k.decode(): v.decode() for k, v in raw.items()})
            assert run["status"] == "PROCESSED", d["runId"]
            history = [h["eventId"] for h in run["history"]]
            assert history == [d["eventId"]], (d["eventId"], history)
        tracked = [k async for k in redis.scan_iter(keys.RUN + "*", count=1000)]
        assert len(tracked) == RUNS
    finally:
        await redis.aclose()

"""R10: Redis (appendonly yes, appendfsync everysec) SIGKILLed during 2,000 deliveries.

With WEBHOOK_ACK_DURABILITY=aof every acknowledged event is applied exactly once after the
restart, and the deliveries refused meanwhile are applied after redelivery. The same run with
`memory` counts the acknowledged events it lost (printed; the README reports the figure).
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

RUNS = 2000
WORKFLOW = "workflow_r10"
SECRET = "wss_r10_secret"


@pytest.fixture
def everysec_redis() -> Iterator[RedisServer]:
    server = RedisServer(valkey=True, appendfsync="everysec").start()
    yield server
    server.stop()


async def deliveries(session: aiohttp.ClientSession, base: str) -> list[dict[str, Any]]:
    async with session.get(f"{base}/_sandbox/deliveries") as resp:
        data = await resp.json()
    return list(data["deliveries"] if isinstance(data, dict) else data)


def sandbox_config(port: int) -> SandboxConfig:
    return SandboxConfig.model_validate(
        {
            "webhook_urls": [f"http://127.0.0.1:{port}/webhooks/extend"],
            "webhook_secret": SECRET,
            "processing": {"pending_seconds": 0.0, "processing_seconds": 0.0},
            "webhooks": {
                "max_attempts": 100,
                "backoff_base_seconds": 0.05,
                "backoff_max_seconds": 0.5,
                "timeout_seconds": 10,
                "concurrency": 16,
            },
            "workflows": {"extend": [{"id": WORKFLOW, "name": "R10"}]},
        }
    )


async def deliver_through_a_crash(server: RedisServer, mode: str) -> list[dict[str, Any]]:
    """All RUNS events delivered (acknowledged) with a SIGKILL of Redis in the middle."""
    port = free_port()
    env = {
        "REDIS_URL": server.url,
        "PORT": str(port),
        "EXTEND_WEBHOOK_SECRETS": SECRET,
        "RELAY_API_KEYS": "k",
        "LOG_LEVEL": "ERROR",
        "WEBHOOK_ACK_DURABILITY": mode,
    }
    web = RelayProcess(["web", "--host", "127.0.0.1"], env, port).start()
    try:
        async with (
            await start_sandbox(sandbox_config(port), port=0) as sb,
            aiohttp.ClientSession() as session,
        ):
            headers = {"Authorization": "Bearer sk_sandbox", "x-extend-api-version": "2026-02-09"}
            for first in range(0, RUNS, 1000):  # the platform takes 1,000 inputs per batch
                inputs = [
                    {"file": {"url": f"https://files.invalid/{i}.pdf"}}
                    for i in range(first, first + 1000)
                ]
                body = {"workflow": {"id": WORKFLOW}, "inputs": inputs}
                async with session.post(
                    f"{sb.base_url}/workflow_runs/batch", json=body, headers=headers
                ) as resp:
                    assert resp.status == 200, await resp.text()

            async def some_acknowledged() -> bool:
                found = await deliveries(session, sb.base_url)
                return sum(d["delivered"] for d in found) >= RUNS // 4

            await until(some_acknowledged, within=90)
            server.stop()  # SIGKILL in the middle of the deliveries

            async def some_refused() -> bool:
                found = await deliveries(session, sb.base_url)
                return sum(any(a["status"] != 200 for a in d["attempts"]) for d in found) >= 5

            await until(some_refused, within=90)
            server.start()  # loads its append-only file

            async def all_delivered() -> bool:
                found = await deliveries(session, sb.base_url)
                return len(found) >= RUNS and all(d["delivered"] for d in found)

            await until(all_delivered, within=90)
            return await deliveries(session, sb.base_url)
    finally:
        web.kill()


async def applied_once(server: RedisServer, final: list[dict[str, Any]]) -> tuple[int, int]:
    """(acknowledged events not applied, events applied more than once) after a burst worker."""
    await run_worker_burst(make_settings(server.url))
    redis = connect(server.url)
    lost = repeated = 0
    try:
        for d in final:
            raw = await redis.hgetall(keys.run(d["runId"]))  # type: ignore[misc]
            run = run_view(d["runId"], {k.decode(): v.decode() for k, v in raw.items()})
            history = [h["eventId"] for h in run.get("history", [])]
            lost += d["eventId"] not in history
            repeated += history.count(d["eventId"]) > 1
    finally:
        await redis.aclose()
    return lost, repeated


@pytest.mark.timeout(150)
@pytest.mark.parametrize("mode", ["aof", "memory"])
async def test_acknowledged_events_survive_a_redis_sigkill(
    everysec_redis: RedisServer, mode: str
) -> None:
    final = await deliver_through_a_crash(everysec_redis, mode)
    refused = [d for d in final if any(a["status"] != 200 for a in d["attempts"])]
    assert refused, "the crash refused no delivery: the test did not test anything"
    lost, repeated = await applied_once(everysec_redis, final)
    print(
        f"\nR10 {mode}: {RUNS} delivered, {len(refused)} refused then redelivered, "
        f"{lost} acknowledged events lost, {repeated} applied twice"
    )
    assert repeated == 0
    if mode == "aof":
        assert lost == 0

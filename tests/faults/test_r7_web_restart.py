"""R7: the web process is SIGKILLed and restarted mid-load; no acknowledged event is lost."""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
from redis.asyncio import Redis

from relay_core import keys
from tests.conftest import make_settings, run_worker_burst
from tests.support.procs import RelayProcess
from tests.support.redis_server import free_port
from tests.support.signing import OTHER_SECRET, SECRET, event, extend_headers, run_payload

EVENTS = 1500
CONCURRENCY = 16


async def test_acknowledged_events_survive_a_web_restart(redis_url: str, redis: Redis) -> None:
    port = free_port()
    env = {
        "REDIS_URL": redis_url,
        "PORT": str(port),
        "EXTEND_WEBHOOK_SECRETS": f"{SECRET},{OTHER_SECRET}",
        "RELAY_API_KEYS": "k",
        "LOG_LEVEL": "WARNING",
    }
    web = RelayProcess(["web", "--host", "127.0.0.1"], env, port).start()
    acked: set[str] = set()
    halfway = asyncio.Event()
    todo: asyncio.Queue[int] = asyncio.Queue()
    for i in range(EVENTS):
        todo.put_nowait(i)

    async def sender(session: aiohttp.ClientSession) -> None:
        while not todo.empty():
            i = todo.get_nowait()
            body = event(
                f"evt_r7_{i}",
                "workflow_run.completed",
                run_payload(f"workflow_run_r7_{i}", "PROCESSED"),
            )
            # Like the platform: retry until a 2xx (bounded by the test timeout).
            while True:
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.post(
                        f"http://127.0.0.1:{port}/webhooks/extend",
                        data=body,
                        headers=extend_headers(body),
                    ) as resp:
                        if resp.status == 200:
                            acked.add(f"evt_r7_{i}")
                            if len(acked) >= EVENTS // 3:
                                halfway.set()
                            break
                await asyncio.sleep(0.02)  # the sender's backoff, not a wait for our work

    try:
        async with aiohttp.ClientSession() as session:
            senders = [asyncio.create_task(sender(session)) for _ in range(CONCURRENCY)]
            await halfway.wait()
            web.kill()
            web.start()
            await asyncio.gather(*senders)
    finally:
        web.kill()

    assert len(acked) == EVENTS
    missing = [e for e in acked if not await redis.exists(keys.event_seen(e))]
    assert missing == []
    await run_worker_burst(make_settings(redis_url))
    statuses = await asyncio.gather(
        *(redis.hget(keys.run(f"workflow_run_r7_{i}"), "s") for i in range(EVENTS))
    )
    assert set(statuses) == {b"PROCESSED"}

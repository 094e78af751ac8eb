"""`relay listen`: registers a subscription, verifies and prints what the relay sends, and
removes the subscription on exit."""

from __future__ import annotations

import asyncio
import io

from aiohttp import web
from redis.asyncio import Redis

from ingest.app import create_app
from relay_cli.client import Client
from relay_cli.listen import listen
from relay_core import keys
from relay_core.notify import emit
from tests.conftest import API_KEY, make_settings, run_worker_burst

NOTIFY = {"CALLBACK_ALLOWED_HOSTS": "127.0.0.1", "NOTIFY_RETRY_SCHEDULE": "0,20ms"}


async def test_listen_prints_verified_notifications(redis_url: str, redis: Redis) -> None:
    runner = web.AppRunner(create_app(make_settings(redis_url, **NOTIFY)), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    relay_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    cli = Client(relay_url, API_KEY)
    out, ready = io.StringIO(), asyncio.Event()
    try:
        task = asyncio.create_task(
            listen(cli, 0, ["batch.completed"], count=1, out=out, ready=ready)
        )
        await asyncio.wait_for(ready.wait(), 10)
        assert await redis.zcard(keys.NOTIFY_SUBS) == 1
        data = {"batchId": "rbatch_x", "runs": {"PROCESSED": 2}}
        await emit.emit(redis, [emit.Event("batch.completed", "rbatch_x", data)])
        await run_worker_burst(make_settings(redis_url, **NOTIFY))
        assert await asyncio.wait_for(task, 10) == 0
    finally:
        await runner.cleanup()
    text = out.getvalue()
    assert "Ready! Listening on http://127.0.0.1:" in text and "whsec_" in text
    assert "batch.completed" in text and "rbatch_x" in text and "verified" in text
    assert await redis.zcard(keys.NOTIFY_SUBS) == 0  # removed on exit


async def test_ctrl_c_removes_the_subscription(redis_url: str, redis: Redis) -> None:
    """`relay listen` as a user runs it, stopped with Ctrl-C (SIGINT)."""
    import os
    import signal
    import sys

    runner = web.AppRunner(create_app(make_settings(redis_url, **NOTIFY)), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    env = {
        **os.environ,
        "RELAY_URL": f"http://127.0.0.1:{runner.addresses[0][1]}",
        "RELAY_API_KEY": API_KEY,
        "REDIS_URL": redis_url,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "relay_cli.main",
        "listen",
        "--port",
        "0",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        first = await asyncio.wait_for(proc.stdout.readline(), 20)
        assert first.startswith(b"Ready! Listening on http://127.0.0.1:")
        assert await redis.zcard(keys.NOTIFY_SUBS) == 1
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await runner.cleanup()
    assert await redis.zcard(keys.NOTIFY_SUBS) == 0

"""The batch tests' stack: the web app on a loopback port, the sandbox delivering its webhooks
to it, and in-process arq workers aimed at the sandbox. No mocks: real Redis, real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from arq import Worker
from arq.constants import in_progress_key_prefix
from redis.asyncio import Redis

from ingest.app import create_app
from relay_core.settings import Settings
from sandbox import Sandbox, SandboxConfig, start_sandbox
from tests.conftest import API_KEY, make_settings
from tests.support.signing import SECRET
from tests.support.wait import until
from worker.app import build_worker

WF = "workflow_batch"


def sandbox_config(**overrides: Any) -> SandboxConfig:
    data: dict[str, Any] = {
        "seed": 11,
        "webhook_secret": SECRET,
        "processing": {"pending_seconds": 0, "processing_seconds": 0},
        "workflows": {"extend": [{"id": WF, "name": "Batch workflow"}]},
    }
    for key, value in overrides.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return SandboxConfig.model_validate(data)


def files(n: int, prefix: str = "doc") -> list[dict[str, Any]]:
    return [{"url": f"https://files.example/{prefix}-{i}.pdf"} for i in range(n)]


@dataclass
class Stack:
    settings: Settings
    sb: Sandbox
    base_url: str
    http: aiohttp.ClientSession
    workers: list[tuple[Worker, asyncio.Task[Any]]] = field(default_factory=list)

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {API_KEY}", **extra}

    async def call(
        self, method: str, path: str, body: Any = None, **headers: str
    ) -> tuple[int, Any]:
        async with self.http.request(
            method, self.base_url + path, json=body, headers=self.headers(**headers)
        ) as resp:
            return resp.status, await resp.json()

    async def submit(self, files_: list[dict[str, Any]], **fields: Any) -> str:
        status, body = await self.call(
            "POST", "/v1/batches", {"workflowId": WF, "files": files_, **fields}
        )
        assert status == 202, body
        return str(body["batchId"])

    async def batch(self, batch_id: str) -> dict[str, Any]:
        status, body = await self.call("GET", f"/v1/batches/{batch_id}")
        assert status == 200, body
        return dict(body)

    async def wait_done(self, batch_id: str, timeout: float = 60.0) -> dict[str, Any]:
        return await until(
            lambda: self.batch(batch_id),
            within=timeout,
            what=f"batch {batch_id} completed",
            accept=lambda view: view["completedAt"] is not None,
        )

    async def sandbox(self, verb: str, route: str, body: Any = None, **params: str) -> Any:
        async with self.http.request(
            verb, self.sb.base_url + route, json=body, params=params
        ) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()

    async def runs_per_url(self, workflow: str = WF) -> Counter[str]:
        runs = (await self.sandbox("GET", "/_sandbox/runs", workflowId=workflow))["runs"]
        return Counter(f["url"] or f["text"] for r in runs for f in r["files"])

    async def requests(self, path: str, method: str = "POST") -> list[dict[str, Any]]:
        return list(
            (await self.sandbox("GET", "/_sandbox/requests", path=path, method=method))["requests"]
        )

    async def deliveries_idle(self, timeout: float = 5.0) -> None:
        """Let in-flight webhook deliveries finish, so no connection is cut mid-request; after
        `timeout` the test goes on regardless (a sandbox still retrying a lost receiver)."""

        async def idle() -> bool:
            return bool((await self.sandbox("GET", "/_sandbox/deliveries"))["idle"])

        with contextlib.suppress(AssertionError):
            await until(idle, within=timeout)

    def start_worker(self, **overrides: Any) -> Worker:
        worker = build_worker(self.settings, handle_signals=False, poll_delay=0.01, **overrides)
        self.workers.append((worker, asyncio.create_task(worker.async_run())))
        return worker

    async def stop_workers(self) -> None:
        for worker, _ in self.workers:
            # Stop the way a burst worker stops: after the poll iteration under way, once its
            # running jobs end. Cancelling the poll loop instead could cut arq's WATCH pipeline
            # in start_jobs and leak its connection (an unclosed-Pipeline ResourceWarning).
            worker.allow_pick_jobs = False
            worker.burst = True
            worker.max_burst_jobs = 0
        for worker, task in self.workers:
            await asyncio.wait_for(task, 60)
            await worker.close()
        self.workers.clear()


@contextlib.asynccontextmanager
async def stack(redis_url: str, config: SandboxConfig, **settings: Any) -> AsyncIterator[Stack]:
    web_settings = make_settings(redis_url, **settings)
    runner = web.AppRunner(create_app(web_settings), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    base = f"http://127.0.0.1:{port}"
    config = config.model_copy(update={"webhook_urls": [base + "/webhooks/extend"]})
    sb = await start_sandbox(config, host="127.0.0.1", port=0)
    values = {
        "EXTEND_BASE_URL": sb.base_url,
        "EXTEND_API_KEY": "sk_sandbox",
        "EXTEND_RUN_RPS": 1000,
        "EXTEND_GET_RPS": 1000,
        "EXTEND_WRITE_RPS": 1000,
        "EXTEND_FILES_PER_MINUTE": 1_000_000,
        "EXTEND_RETRY_BASE_SECONDS": 0.05,
        "EXTEND_RETRY_MAX_SECONDS": 0.5,
        "EXTEND_TIMEOUT_SECONDS": 5,
        "SIGNED_URL_ALLOWED_HOSTS": "127.0.0.1",
        **settings,
    }
    worker_settings = make_settings(redis_url, **values)
    async with aiohttp.ClientSession() as http:
        st = Stack(worker_settings, sb, base, http)
        try:
            yield st
        finally:
            await st.stop_workers()
            await st.deliveries_idle()
            await sb.close()
            await runner.cleanup()


async def jobs_in_progress(redis: Redis) -> list[bytes]:
    """arq's in-progress keys of real jobs. Not the marker arq keeps for 60 s after each cron
    run (so that a cron runs once per tick), which holds no work."""
    cron = (in_progress_key_prefix + "cron:").encode()
    found = redis.scan_iter(match=in_progress_key_prefix + "*")
    return [key async for key in found if not key.startswith(cron)]

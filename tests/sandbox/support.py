"""Helpers shared by the sandbox tests: config, headers, a webhook receiver."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from sandbox import Sandbox, SandboxConfig

V2025 = "2025-04-21"
V2026 = "2026-02-09"
WF = "workflow_test_invoices"
WF_REVIEW = "workflow_test_review"

EXTRACT = {
    "name": "extract",
    "type": "EXTRACT",
    "config": {"extractor": {"id": "ex_1", "version": "latest"}},
}
STEPS = [
    {"name": "trigger", "type": "TRIGGER", "next": [{"step": "parse"}]},
    {"name": "parse", "type": "PARSE", "next": [{"step": "extract"}]},
    EXTRACT,
]
REVIEW_STEPS = [
    {"name": "trigger", "type": "TRIGGER", "next": [{"step": "parse"}]},
    {"name": "parse", "type": "PARSE", "next": [{"step": "extract"}]},
    {**EXTRACT, "next": [{"step": "review"}]},
    {"name": "review", "type": "HUMAN_REVIEW"},
]


def base_config(**overrides: Any) -> SandboxConfig:
    data: dict[str, Any] = {
        "seed": 7,
        "webhook_secret": "wss_test_secret",
        "workflows": {
            "extend": [
                {"id": WF, "name": "Invoices", "steps": STEPS, "versions": [{"name": "v1"}]},
                {"id": WF_REVIEW, "name": "Reviewed", "steps": REVIEW_STEPS},
            ],
            "eachlabs": [
                {
                    "id": "wf_each",
                    "name": "Text to image",
                    "slug": "text-to-image",
                    "versions": [
                        {"version_id": "v1", "definition": {"version": "v1", "steps": []}}
                    ],
                }
            ],
            "xpander": [
                {
                    "id": "11111111-1111-4111-8111-111111111111",
                    "name": "Agent flow",
                    "orchestration_nodes": [{"id": "a", "next_node_ids": ["b"]}, {"id": "b"}],
                },
                {"id": "22222222-2222-4222-8222-222222222222", "name": "Empty flow"},
            ],
        },
    }
    data.update(overrides)
    return SandboxConfig.model_validate(data)


def headers(version: str | None = V2026, key: str = "sk_sandbox") -> dict[str, str]:
    out = {"Authorization": f"Bearer {key}"}
    if version is not None:
        out["x-extend-api-version"] = version
    return out


async def control(
    http: aiohttp.ClientSession, sb: Sandbox, method: str, path: str, body: Any = None
) -> Any:
    async with http.request(method, f"{sb.base_url}/_sandbox/{path}", json=body) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


@dataclass
class Delivery:
    body: bytes
    headers: dict[str, str]
    received_at: float


@dataclass
class Receiver:
    """A loopback webhook endpoint answering from a script of statuses (then 200)."""

    statuses: list[int] = field(default_factory=list)
    hang_first: int = 0  # this many first requests are held far past any client timeout
    deliveries: list[Delivery] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/hook"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.deliveries.append(Delivery(body, dict(request.headers), time.time()))
        if self.hang_first > 0:
            self.hang_first -= 1
            await asyncio.sleep(30)
        status = self.statuses.pop(0) if self.statuses else 200
        return web.Response(status=status, text="ok")

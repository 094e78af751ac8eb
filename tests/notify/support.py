"""A real notification receiver on 127.0.0.1: answers a scripted list of statuses, records
every request (headers and exact body bytes), and can hold requests to observe concurrency."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from standardwebhooks import Webhook


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Receiver:
    statuses: list[int] = field(default_factory=list)  # consumed in order; then `default`
    default: int = 200
    hold: asyncio.Event | None = None
    received: list[Received] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            body = await request.read()
            self.received.append(Received(dict(request.headers), body))
            if self.hold is not None:
                await self.hold.wait()
            status = self.statuses.pop(0) if self.statuses else self.default
            return web.Response(status=status, text="ok")
        finally:
            self.in_flight -= 1

    def verified(self, secret: str) -> list[Any]:
        """Every body, each checked with the Standard Webhooks reference library."""
        return [Webhook(secret).verify(r.body, r.headers) for r in self.received]

    def of_type(self, event_type: str) -> list[Received]:
        return [r for r in self.received if r.json["type"] == event_type]


@contextlib.asynccontextmanager
async def receiver(host: str = "127.0.0.1", **kw: Any) -> AsyncIterator[Receiver]:
    rec = Receiver(**kw)
    app = web.Application()
    app.router.add_post("/{tail:.*}", rec.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    rec.url = f"http://{host}:{runner.addresses[0][1]}/hook"
    try:
        yield rec
    finally:
        if rec.hold is not None:
            rec.hold.set()
        await runner.cleanup()

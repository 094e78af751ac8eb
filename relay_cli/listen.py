"""`relay listen`: a local receiver for development, like `stripe listen`.

Starts a small HTTP server on 127.0.0.1, subscribes it (POST /v1/subscriptions on RELAY_URL),
then verifies and prints every notification the relay sends; on exit it deletes the
subscription again (with an admin key; otherwise it says which one to delete). The relay must
allow plain http to it: CALLBACK_ALLOWED_HOSTS=127.0.0.1 on the relay's side.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson
from aiohttp import web

from relay_cli.client import Client, Unreachable, failed
from relay_cli.config import relay_client
from relay_core.notify.events import ALL_EVENTS
from relay_core.notify.signing import SignatureError, verify


def add_parser(sub: Any) -> None:
    listen = sub.add_parser(
        "listen", help="receive, verify and print notifications locally (development)"
    )
    listen.add_argument("--port", type=int, default=4242, help="local port (default 4242)")
    listen.add_argument(
        "--events",
        default=",".join(ALL_EVENTS),
        help="comma-separated event types (default: all)",
    )
    listen.add_argument(
        "--url", help="URL the relay should post to (default http://127.0.0.1:PORT/)"
    )
    listen.add_argument("--json", action="store_true", help="print each whole body as JSON")
    listen.add_argument("--count", type=int, help="exit after this many notifications")
    listen.add_argument("--keep", action="store_true", help="keep the subscription on exit")
    listen.set_defaults(run=cmd_listen)


def cmd_listen(args: argparse.Namespace) -> int:
    relay = relay_client("listen")
    events = [e.strip() for e in args.events.split(",") if e.strip()]
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(
            listen(
                relay,
                args.port,
                events,
                url=args.url,
                as_json=args.json,
                count=args.count,
                keep=args.keep,
            )
        )
    return 0


class Listener:
    def __init__(self, out: TextIO, as_json: bool, count: int | None) -> None:
        self.out, self.as_json, self.count = out, as_json, count
        self.secret = ""
        self.seen = 0
        self.done = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            verify(self.secret, dict(request.headers), body)
        except SignatureError as exc:
            print(f"!! rejected a notification: {exc}", file=self.out, flush=True)
            return web.json_response({"error": str(exc)}, status=400)
        self.print(request.headers.get("webhook-id", ""), orjson.loads(body))
        self.seen += 1
        if self.count is not None and self.seen >= self.count:
            self.done.set()
        return web.json_response({"received": True})

    def print(self, msg_id: str, event: dict[str, Any]) -> None:
        if self.as_json:
            print(orjson.dumps(event).decode(), file=self.out, flush=True)
            return
        now = datetime.now(UTC).strftime("%H:%M:%S")
        data = event.get("data") or {}
        subject = data.get("batchId") if "batch" in str(event.get("type")) else None
        subject = subject or data.get("runId") or data.get("id") or data.get("batchId") or ""
        line = f"{now}  --> {event.get('type'):<17} {subject}  [{msg_id}] verified"
        print(line, file=self.out, flush=True)
        print("    " + orjson.dumps(data).decode()[:2000], file=self.out, flush=True)


async def listen(
    relay: Client,
    port: int,
    events: list[str],
    *,
    url: str | None = None,
    as_json: bool = False,
    count: int | None = None,
    keep: bool = False,
    out: TextIO = sys.stdout,
    ready: asyncio.Event | None = None,
) -> int:
    listener = Listener(out, as_json, count)
    app = web.Application()
    app.router.add_post("/{tail:.*}", listener.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    bound = runner.addresses[0][1]
    target = url or f"http://127.0.0.1:{bound}/"
    async with relay:
        try:
            status, sub = await relay.call(
                "POST", "/v1/subscriptions", json={"url": target, "events": events}
            )
            if status >= 400:
                return failed(status, sub)
            listener.secret = sub["secret"]
            print(
                f"Ready! Listening on {target} as {sub['id']} for {', '.join(sub['events'])}\n"
                f"Signing secret: {sub['secret']}   (Ctrl-C to stop)",
                file=out,
                flush=True,
            )
            if ready is not None:
                ready.set()
            await listener.done.wait()
            return 0
        finally:
            if listener.secret and not keep:
                await _unsubscribe(relay, sub["id"], out)
            await runner.cleanup()


async def _unsubscribe(relay: Client, sub_id: str, out: TextIO) -> None:
    with contextlib.suppress(Unreachable):
        status, _ = await relay.call("DELETE", f"/v1/subscriptions/{sub_id}")
        if status >= 400:
            print(
                f"could not delete {sub_id} (HTTP {status}): delete it with an admin key",
                file=out,
                flush=True,
            )

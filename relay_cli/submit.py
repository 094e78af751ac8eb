"""`relay submit` and `relay status`: submit a file of URLs as a batch; show a batch's progress.

Thin clients of the /v1 API (RELAY_URL, RELAY_API_KEY), like `relay deploys`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import aiohttp
import orjson
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn

from relay_cli.config import load_settings
from relay_core.settings import ConfigError, Settings

STATUSES = ("PENDING", "PROCESSING", "NEEDS_REVIEW", "PROCESSED", "FAILED", "REJECTED", "CANCELLED")
POLL_SECONDS = 1.0


def add_parser(sub: Any) -> None:
    submit = sub.add_parser("submit", help="submit a file of URLs as one batch (via RELAY_URL)")
    submit.add_argument("--workflow", required=True)
    submit.add_argument("--version")
    submit.add_argument("--priority", type=int, help="1 (first) to 100; default 90")
    submit.add_argument("--weight", type=float, help="share among your batches (default 1)")
    submit.add_argument("--metadata", help="JSON object added to every run's metadata")
    submit.add_argument("--wait", action="store_true", help="show progress until it completes")
    submit.add_argument("file", help="one URL per line, or - for standard input")
    submit.set_defaults(run=cmd_submit)
    status = sub.add_parser("status", help="show a batch's progress")
    status.add_argument("batch")
    status.add_argument("--watch", action="store_true", help="keep showing until it completes")
    status.set_defaults(run=cmd_status)


def _settings() -> Settings:
    settings = load_settings()
    if settings.relay_api_key is None:
        raise ConfigError("RELAY_API_KEY is not set: `relay submit`/`status` call the /v1 API")
    return settings


def _body(args: argparse.Namespace) -> dict[str, Any]:
    text = sys.stdin.read() if args.file == "-" else open(args.file, encoding="utf-8").read()  # noqa: SIM115
    urls = [line.strip() for line in text.splitlines() if line.strip()]
    body: dict[str, Any] = {"workflowId": args.workflow, "files": [{"url": u} for u in urls]}
    if args.version is not None:
        body["version"] = args.version
    if args.priority is not None:
        body["priority"] = args.priority
    if args.weight is not None:
        body["weight"] = args.weight
    if args.metadata is not None:
        body["metadata"] = orjson.loads(args.metadata)
    return body


def cmd_submit(args: argparse.Namespace) -> int:
    settings = _settings()
    try:
        body = _body(args)
    except (OSError, orjson.JSONDecodeError) as exc:
        print(f"relay: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_submit(settings, body, args.wait))


def cmd_status(args: argparse.Namespace) -> int:
    return asyncio.run(_status(_settings(), args.batch, args.watch))


async def _call(
    http: aiohttp.ClientSession, settings: Settings, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    key = settings.relay_api_key.get_secret_value() if settings.relay_api_key else ""
    url = settings.relay_url.rstrip("/") + path
    async with http.request(
        method, url, json=body, headers={"Authorization": f"Bearer {key}"}
    ) as resp:
        return resp.status, await resp.json(content_type=None)


def _failed(status: int, answer: Any) -> int:
    error = answer.get("error", {}) if isinstance(answer, dict) else {}
    print(f"relay: HTTP {status} {error.get('code')}: {error.get('message')}", file=sys.stderr)
    return 1


async def _submit(settings: Settings, body: dict[str, Any], wait: bool) -> int:
    async with aiohttp.ClientSession() as http:
        status, answer = await _call(http, settings, "POST", "/v1/batches", body)
        if status >= 400:
            return _failed(status, answer)
        print(answer["batchId"], flush=True)
        return await _watch(http, settings, answer["batchId"]) if wait else 0


async def _status(settings: Settings, batch_id: str, watch: bool) -> int:
    async with aiohttp.ClientSession() as http:
        if watch:
            return await _watch(http, settings, batch_id)
        status, view = await _call(http, settings, "GET", f"/v1/batches/{batch_id}")
        if status >= 400:
            return _failed(status, view)
        _print_view(view)
        return 0


def _print_view(view: dict[str, Any]) -> None:
    console = Console()
    console.print(f"batch {view['batchId']}  state {view['state']}  files {view['files']}")
    console.print(
        f"  producer {view['producer']}  priority {view['priority']}  "
        f"share {view['share']:.0%}  eta {view['eta'] or '-'}"
    )
    for name in STATUSES:
        console.print(f"  {name:<13}{view['runs'].get(name, 0):>8}")
    console.print(f"  {'NOT SUBMITTED':<13}{view['notSubmitted']:>8}")


def _show_sending(progress: Progress, bars: dict[str, Any], view: dict[str, Any]) -> None:
    """One bar for the files sent so far, labelled with the batch's share and ETA."""
    label = f"SENT ({view['share']:.0%} of limit, eta {view['eta'] or '-'})"
    if "SENT" not in bars:
        bars["SENT"] = progress.add_task(label, total=view["files"])
    progress.update(bars["SENT"], completed=view["files"] - view["queued"], description=label)


async def _watch(http: aiohttp.ClientSession, settings: Settings, batch_id: str) -> int:
    """A live bar per status until the batch completes; exit 0 unless a file did not succeed."""
    console = Console(stderr=True)
    columns = (TextColumn("{task.description:<13}"), BarColumn(), TextColumn("{task.completed:>7}"))
    with Progress(*columns, console=console, transient=False) as progress:
        bars: dict[str, Any] = {}
        while True:
            status, view = await _call(http, settings, "GET", f"/v1/batches/{batch_id}")
            if status >= 400:
                return _failed(status, view)
            counts = {**view["runs"], "NOT SUBMITTED": view["notSubmitted"]}
            _show_sending(progress, bars, view)
            for name, value in counts.items():
                if name not in bars:
                    bars[name] = progress.add_task(name, total=view["files"])
                progress.update(bars[name], completed=value)
            if view["completedAt"] is not None:
                break
            await asyncio.sleep(POLL_SECONDS)
    print(f"{view['state']}: {view['runs']['PROCESSED']} of {view['files']} processed", flush=True)
    return 0 if view["runs"]["PROCESSED"] == view["files"] else 1

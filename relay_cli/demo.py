"""`relay demo`: the whole loop on one machine — Redis, sandbox, web, worker — and a summary.

A batch of files goes to a draft workflow on the sandbox; some runs go to review (the demo
plays the reviewer: it approves all but one, which it rejects), a few fail, and a
`batch.completed` rule deploys a new version once the batch completes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from relay_cli.client import Client, Unreachable
from relay_cli.localredis import PrivateRedis, free_port
from relay_cli.stack import Child, start_relay, start_sandbox
from relay_core.runs.status import BATCH_COUNTED
from relay_core.settings import Settings

WORKFLOW = "workflow_demo_invoices"
API_KEY = "demo-key"
FINAL_DEPLOY_STATES = ("deployed", "failed", "skipped", "dry_run")
COLORS = {
    "PENDING": "grey50",
    "PROCESSING": "cyan",
    "NEEDS_REVIEW": "yellow",
    "PROCESSED": "green",
    "FAILED": "red",
    "REJECTED": "magenta",
    "CANCELLED": "grey30",
}


def sandbox_config(seed: int) -> dict[str, Any]:
    return {
        "seed": seed,
        "processing": {
            "pending_seconds": 0.1,
            "processing_seconds": 0.6,
            "p_needs_review": 0.12,
            "p_failed": 0.03,
            "auto_review": False,
        },
        "rate_limits": {"run_rps": 4, "files_per_minute": 2000},
        "workflows": {
            "extend": [
                {
                    "id": WORKFLOW,
                    "name": "Invoices (demo)",
                    "steps": [
                        {"name": "trigger", "type": "TRIGGER", "next": [{"step": "parse"}]},
                        {"name": "parse", "type": "PARSE", "next": [{"step": "review"}]},
                        {"name": "review", "type": "HUMAN_REVIEW"},
                    ],
                }
            ]
        },
    }


RULES = f"""
[[rules]]
name = "promote-draft"
on = "batch.completed"
workflow = "{WORKFLOW}"
max_failure_rate = 0.25
min_processed = 1

[rules.deploy]
provider = "extend"
workflow = "{WORKFLOW}"
name = "auto {{rule}} {{batch_id}}"
"""


def configured_redis_url() -> str | None:
    """REDIS_URL when the environment sets it (not the settings' localhost default)."""
    settings = Settings()
    return settings.redis.url if "url" in settings.redis.model_fields_set else None


class Demo:
    def __init__(self, args: argparse.Namespace, console: Console) -> None:
        self.args = args
        self.console = console
        self.children: list[Child] = []
        self.redis: PrivateRedis | None = None
        self.tmp = tempfile.TemporaryDirectory(prefix="relay-demo-")
        self.web_url = ""
        self.sandbox_url = ""

    def start(self) -> None:
        work = Path(self.tmp.name)
        redis_url = self.args.redis_url or configured_redis_url()
        if not redis_url:
            self.redis = PrivateRedis().start()
            redis_url = self.redis.url
        web_port = free_port()
        self.web_url = f"http://127.0.0.1:{web_port}"
        secret = "wss_demo_" + secrets.token_hex(16)
        (work / "sandbox.json").write_bytes(orjson.dumps(sandbox_config(self.args.seed)))
        (work / "rules.toml").write_text(RULES)
        sandbox, ready = start_sandbox(
            work / "sandbox.json", f"{self.web_url}/webhooks/extend", secret, work
        )
        self.children.append(sandbox)
        self.sandbox_url = ready["base_url"]
        env = self.relay_env(redis_url, web_port, secret, work / "rules.toml")
        self.children.append(start_relay(["web", "--host", "127.0.0.1"], env, work))
        self.children.append(start_relay(["worker"], env, work))

    def relay_env(self, redis_url: str, port: int, secret: str, rules: Path) -> dict[str, str]:
        return {
            "REDIS_URL": redis_url,
            "PORT": str(port),
            "EXTEND_WEBHOOK_SECRETS": secret,
            "RELAY_API_KEYS": API_KEY,
            "EXTEND_API_KEY": "sk_sandbox",
            "EXTEND_BASE_URL": self.sandbox_url,
            "EXTEND_RUN_RPS": "4",
            "EXTEND_FILES_PER_MINUTE": "2000",
            "RELAY_RULES": str(rules),
            "SIGNED_URL_ALLOWED_HOSTS": "127.0.0.1",
            "RECONCILE_AFTER_SECONDS": "30",
            "EACHLABS_BASE_URL": self.sandbox_url + "/eachlabs/v1",
            "XPANDER_BASE_URL": self.sandbox_url + "/xpander",
            "LOG_LEVEL": "INFO",
        }

    def stop(self) -> None:
        for child in reversed(self.children):
            child.stop()
        self.children.clear()
        if self.redis is not None:
            self.redis.stop()
            self.redis = None
        self.tmp.cleanup()

    def check_alive(self) -> None:
        for child in self.children:
            if child.proc.poll() is not None:
                raise RuntimeError(
                    f"{child.name} exited ({child.proc.returncode}):\n{child.tail()}"
                )


async def wait_ready(relay: Client, demo: Demo, deadline: float) -> None:
    while time.monotonic() < deadline:
        demo.check_alive()
        with contextlib.suppress(Unreachable):
            if (await relay.call("GET", "/readyz", tries=1)).status == 200:
                return
        await asyncio.sleep(0.1)
    raise RuntimeError("the web process did not become ready")


async def submit(relay: Client, demo: Demo, files: int) -> dict[str, Any]:
    body = {
        "workflowId": WORKFLOW,
        "version": "draft",
        "chunkSize": demo.args.chunk_size,
        "metadata": {"source": "relay-demo"},
        "files": [
            {
                "url": f"https://files.example.com/invoices/invoice-{i:04d}.pdf",
                "name": f"invoice-{i:04d}.pdf",
            }
            for i in range(files)
        ],
    }
    status, data = await relay.call(
        "POST", "/v1/batches", json=body, idempotency_key=f"relay-demo-{secrets.token_hex(8)}"
    )
    if status != 202:
        raise RuntimeError(f"batch refused: {status} {data}")
    return dict(data)


class Reviewer:
    """Plays the human reviewer on the sandbox: rejects the first run in review, approves the rest."""

    def __init__(self) -> None:
        self.approved = 0
        self.rejected = 0

    async def review(self, sandbox: Client) -> None:
        _, found = await sandbox.call("GET", "/_sandbox/runs", params={"status": "NEEDS_REVIEW"})
        runs = found.get("runs", [])
        for run in runs:
            if self.rejected == 0:
                path, payload = "reject", {"note": "Vendor name does not match the PO (demo)"}
                self.rejected += 1
            else:
                path, payload = "approve", {}
                self.approved += 1
            await sandbox.call("POST", f"/_sandbox/runs/{run['id']}/{path}", json=payload)


async def follow(
    relay: Client, sandbox: Client, demo: Demo, batch_id: str, console: Console
) -> dict[str, Any]:
    reviewer = Reviewer()
    progress = Progress(
        TextColumn("{task.description:>14}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[note]}"),
        console=console,
    )
    status: dict[str, Any] = {}
    with progress:
        tasks = {
            s: progress.add_task(f"[{COLORS[s]}]{s}", total=demo.args.files, note="")
            for s in BATCH_COUNTED
        }
        submitted = progress.add_task("submitted", total=demo.args.files, note="")
        while True:
            demo.check_alive()
            status = (await relay.call("GET", f"/v1/batches/{batch_id}")).body
            for name, task in tasks.items():
                progress.update(task, completed=status.get("runs", {}).get(name, 0))
            sent = demo.args.files - int(status.get("notSubmitted", 0))
            chunks = status.get("chunks", {})
            note = f"chunks {chunks.get('submitted', 0)}/{chunks.get('total', 0)}"
            waits = await rate_limit_waits(relay)
            if waits is not None:
                note += f", rate-limit waits {waits:.0f}"
            progress.update(submitted, completed=sent, note=note)
            if status.get("state") in ("completed", "cancelled"):
                break
            await reviewer.review(sandbox)
            await asyncio.sleep(0.25)
    status["_reviews"] = {"approved": reviewer.approved, "rejected": reviewer.rejected}
    return status


async def rate_limit_waits(relay: Client) -> float | None:
    with contextlib.suppress(Unreachable):
        status, text = await relay.call("GET", "/metrics", tries=1)
        if status != 200:
            return None
        total = 0.0
        for line in str(text).splitlines():
            if line.startswith("relay_rate_limit_waits_total"):
                total += float(line.rsplit(" ", 1)[1])
        return total
    return None


async def wait_deploys(relay: Client, batch_id: str, deadline: float) -> list[dict[str, Any]]:
    while time.monotonic() < deadline:
        _, found = await relay.call("GET", f"/v1/batches/{batch_id}")
        deploys: list[dict[str, Any]] = found.get("deploys", [])
        if any(d.get("status") in FINAL_DEPLOY_STATES for d in deploys):
            return deploys
        await asyncio.sleep(0.25)
    return []


def summary(
    console: Console, status: dict[str, Any], deploys: list[dict[str, Any]], elapsed: float
) -> None:
    runs = Table(title=f"batch {status.get('batchId')} — {status.get('state')} in {elapsed:.1f} s")
    runs.add_column("status")
    runs.add_column("runs", justify="right")
    for name in BATCH_COUNTED:
        runs.add_row(f"[{COLORS[name]}]{name}", str(status.get("runs", {}).get(name, 0)))
    runs.add_row("not submitted", str(status.get("notSubmitted", 0)))
    reviews = status.get("_reviews", {})
    runs.add_row(
        "reviews approved / rejected",
        f"{reviews.get('approved', 0)} / {reviews.get('rejected', 0)}",
    )
    console.print(runs)
    table = Table(title="deploys")
    for column in ("rule", "provider", "target", "outcome", "version"):
        table.add_column(column)
    for d in deploys:
        version = d.get("version") or {}
        label = (
            f"v{version.get('number')} {version.get('name') or ''}".strip()
            if version.get("number")
            else ""
        )
        table.add_row(
            str(d.get("rule")),
            str(d.get("provider")),
            str(d.get("target")),
            str(d.get("status")),
            label or str(version.get("id") or d.get("reason") or ""),
        )
    if not deploys:
        table.add_row("—", "", "", "no deploy recorded", "")
    console.print(table)


async def scenario(demo: Demo, console: Console) -> int:
    async with Client(demo.web_url, API_KEY) as relay, Client(demo.sandbox_url) as sandbox:
        await wait_ready(relay, demo, time.monotonic() + 60)
        started = time.monotonic()
        created = await submit(relay, demo, demo.args.files)
        console.print(
            f"batch [bold]{created['batchId']}[/]: {created['files']} files in {created['chunks']} chunks"
        )
        status = await follow(relay, sandbox, demo, created["batchId"], console)
        deploys = await wait_deploys(relay, created["batchId"], time.monotonic() + 60)
        summary(console, status, deploys, time.monotonic() - started)
        ok = status.get("state") == "completed" and any(
            d.get("status") == "deployed" for d in deploys
        )
        return 0 if ok else 1


def run(args: argparse.Namespace) -> int:
    # Ctrl-C (SIGINT) is how the demo stops, even when started from a shell that launched it in
    # the background with SIGINT ignored (Python keeps an inherited "ignore").
    signal.signal(signal.SIGINT, signal.default_int_handler)
    console = Console()
    demo = Demo(args, console)
    try:
        console.print("[bold]workflow-relay demo[/]: starting Redis, sandbox, web and worker ...")
        demo.start()
        code = asyncio.run(scenario(demo, console))
        if args.keep:
            console.print(
                f"web: {demo.web_url}  (API key: {API_KEY})\nsandbox: {demo.sandbox_url}\n"
                "Ctrl-C stops everything."
            )
            with contextlib.suppress(KeyboardInterrupt):
                while True:
                    time.sleep(3600)
        return code
    except KeyboardInterrupt:
        console.print("stopping ...")
        return 130
    except RuntimeError as exc:
        console.print(f"[red]demo failed:[/] {exc}")
        return 1
    finally:
        demo.stop()


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("demo", help="run the whole loop locally against the sandbox")
    parser.add_argument(
        "--files", type=int, default=120, help="files in the demo batch (default 120)"
    )
    parser.add_argument(
        "--chunk-size", type=int, default=10, help="files per platform request (1-50)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--keep", action="store_true", help="leave everything running and print the URLs"
    )
    parser.add_argument("--redis-url", default=None, help="use this Redis instead of a private one")
    parser.set_defaults(run=run)

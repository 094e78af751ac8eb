"""`relay submit` and `relay status`: submit files as a batch; show a batch's progress.

`relay submit` takes local files, folders and globs (uploaded first, relay_cli.upload), URLs,
files of URLs, Extend file ids (--ids) and texts (--texts). Thin clients of the /v1 API
(RELAY_URL, RELAY_API_KEY), like `relay deploys`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from typing import Any

import orjson
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn

from relay_cli.client import Client, Unreachable, failed
from relay_cli.config import relay_client
from relay_cli.upload import (
    UploadFailed,
    id_entries,
    sort_inputs,
    text_entries,
    upload_all,
    warn_same_names,
)

STATUSES = ("PENDING", "PROCESSING", "NEEDS_REVIEW", "PROCESSED", "FAILED", "REJECTED", "CANCELLED")
POLL_SECONDS = 1.0


def add_parser(sub: Any) -> None:
    submit = sub.add_parser(
        "submit",
        help="run local files, folders, globs, URLs, file ids or texts as one batch",
        description="Local files are uploaded to Extend first (each content once: run the same "
        "command again to resume an interrupted upload). A .txt/.urls/.list file whose lines "
        "are all URLs is read as a list of URLs; - reads URLs from standard input.",
    )
    submit.add_argument("--workflow", required=True)
    submit.add_argument("--version")
    submit.add_argument("--priority", type=int, help="1 (first) to 100; default 90")
    submit.add_argument("--weight", type=float, help="share among your batches (default 1)")
    submit.add_argument("--metadata", help="JSON object added to every run's metadata")
    submit.add_argument("--wait", action="store_true", help="show progress until it completes")
    submit.add_argument("--ids", metavar="FILE", help="Extend file ids, one per line")
    submit.add_argument(
        "--texts", metavar="FILE", action="append", help="a file whose content is one raw text"
    )
    submit.add_argument("--callback", metavar="URL", help="https URL told when the batch is done")
    submit.add_argument(
        "--callback-events", help="comma-separated (default batch.completed,batch.cancelled)"
    )
    submit.add_argument("--concurrency", type=int, default=4, help="uploads at a time (4)")
    submit.add_argument(
        "inputs", nargs="*", help="local files, folders, globs, URLs, files of URLs, or -"
    )
    submit.set_defaults(run=cmd_submit)
    status = sub.add_parser("status", help="show a batch's progress")
    status.add_argument("batch")
    status.add_argument("--watch", action="store_true", help="keep showing until it completes")
    status.set_defaults(run=cmd_status)


def _head(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {"workflowId": args.workflow}
    if args.version is not None:
        body["version"] = args.version
    if args.priority is not None:
        body["priority"] = args.priority
    if args.weight is not None:
        body["weight"] = args.weight
    if args.metadata is not None:
        body["metadata"] = orjson.loads(args.metadata)
    if args.callback is not None:
        body["callbackUrl"] = args.callback
    if args.callback_events:
        body["callbackEvents"] = [e.strip() for e in args.callback_events.split(",") if e.strip()]
    return body


def cmd_submit(args: argparse.Namespace) -> int:
    relay = relay_client("submit")
    try:
        head = _head(args)
        entries, local = sort_inputs(args.inputs)
        warn_same_names(local)
        if args.ids:
            entries += id_entries(args.ids)
        entries += text_entries(args.texts or [])
    except (OSError, ValueError) as exc:  # a bad file, file name or --metadata
        print(f"relay: {exc}", file=sys.stderr)
        return 2
    if not entries:
        print(
            "relay: nothing to submit: name files, folders, URLs, --ids or --texts", file=sys.stderr
        )
        return 2
    try:
        return asyncio.run(_submit(relay, head, entries, local, args))
    except (UploadFailed, Unreachable) as exc:
        print(
            f"relay: upload failed: {exc} (run the same command again to resume)", file=sys.stderr
        )
        return 1


def cmd_status(args: argparse.Namespace) -> int:
    return asyncio.run(_status(relay_client("status"), args.batch, args.watch))


async def _submit(
    relay: Client,
    head: dict[str, Any],
    entries: list[dict[str, Any]],
    local: list[tuple[Any, str]],
    args: argparse.Namespace,
) -> int:
    async with relay:
        ids = await upload_all(relay, local, max(1, args.concurrency))
        files = [
            {"id": ids[e["upload"]], "name": local[e["upload"]][1]} if "upload" in e else e
            for e in entries
        ]
        # One key per command: a batch POST retried after a lost answer creates one batch.
        status, answer = await relay.call(
            "POST",
            "/v1/batches",
            json={**head, "files": files},
            idempotency_key=f"relay-submit-{uuid.uuid4()}",
            transfer=True,
        )
        if status >= 400:
            return failed(status, answer)
        print(answer["batchId"], flush=True)
        if answer.get("callbackSecret"):
            print(f"callback secret: {answer['callbackSecret']}", file=sys.stderr, flush=True)
        return await _watch(relay, answer["batchId"]) if args.wait else 0


async def _status(relay: Client, batch_id: str, watch: bool) -> int:
    async with relay:
        if watch:
            return await _watch(relay, batch_id)
        status, view = await relay.call("GET", f"/v1/batches/{batch_id}")
        if status >= 400:
            return failed(status, view)
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


async def _watch(relay: Client, batch_id: str) -> int:
    """A live bar per status until the batch completes; exit 0 unless a file did not succeed."""
    console = Console(stderr=True)
    columns = (TextColumn("{task.description:<13}"), BarColumn(), TextColumn("{task.completed:>7}"))
    with Progress(*columns, console=console, transient=False) as progress:
        bars: dict[str, Any] = {}
        while True:
            status, view = await relay.call("GET", f"/v1/batches/{batch_id}")
            if status >= 400:
                return failed(status, view)
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

"""`relay results BATCH -o out.jsonl|out.csv`: export a batch's results, resumably.

Lines are appended to the output as they arrive (for a .csv, to `out.csv.jsonl` first, then
turned into columns at the end, one per extracted field), so an interrupted export re-run
with the same command continues after the last complete line.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import sys
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from relay_cli.client import Client, Unreachable, failed, read_body
from relay_cli.config import relay_client

FIXED = ("fileIndex", "file", "name", "runId", "status", "reviewed", "failureReason")


def add_parser(sub: Any) -> None:
    results = sub.add_parser(
        "results", help="export a batch's results (outputs included) to .jsonl or .csv"
    )
    results.add_argument("batch")
    results.add_argument("-o", "--output", required=True, help="out.jsonl, or out.csv")
    results.add_argument("--restart", action="store_true", help="start over, not resume")
    results.set_defaults(run=cmd_results)


def cmd_results(args: argparse.Namespace) -> int:
    relay = relay_client("results")
    out = Path(args.output)
    as_csv = out.suffix.lower() == ".csv"
    lines_path = out.with_name(out.name + ".jsonl") if as_csv else out
    if args.restart:
        lines_path.unlink(missing_ok=True)
    try:
        code = asyncio.run(export(relay, args.batch, lines_path))
    except (OSError, aiohttp.ClientError, Unreachable) as exc:
        print(f"relay: {exc} (run the same command again to resume)", file=sys.stderr)
        return 1
    if code == 0 and as_csv:
        rows = to_csv(lines_path, out)
        lines_path.unlink()
        print(f"{rows} rows written to {out}", flush=True)
    return code


def resume_point(path: Path) -> int:
    """The next file index to fetch; a torn last line (an interrupted write) is cut off."""
    if not path.exists():
        return 0
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data):
        with path.open("r+b") as f:
            f.truncate(end)
    if end == 0:
        return 0
    last = data[: end - 1].rsplit(b"\n", 1)[-1]
    return int(orjson.loads(last)["fileIndex"]) + 1


async def export(relay: Client, batch_id: str, path: Path) -> int:
    cursor = resume_point(path)
    route = f"/v1/batches/{batch_id}/results"
    async with relay, relay.stream(route, {"cursor": str(cursor)}) as resp:
        if resp.status >= 400:
            return failed(resp.status, await read_body(resp))
        total = int(resp.headers.get("X-Relay-Files", "0"))
        await _write(resp, path, cursor, total)
    return 0


async def _write(resp: aiohttp.ClientResponse, path: Path, done: int, total: int) -> None:
    columns = (
        TextColumn("results"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with (
        Progress(*columns, console=Console(stderr=True)) as progress,
        path.open("ab") as out,
    ):
        bar = progress.add_task("results", total=total, completed=done)
        pending = b""
        async for chunk in resp.content.iter_chunked(1 << 16):
            pending += chunk
            cut = pending.rfind(b"\n") + 1
            if cut:
                out.write(pending[:cut])
                out.flush()
                progress.advance(bar, pending[:cut].count(b"\n"))
                pending = pending[cut:]
        os.fsync(out.fileno())


def flatten(value: Any, prefix: str, into: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            flatten(v, f"{prefix}.{k}" if prefix else str(k), into)
    elif isinstance(value, list):
        into[prefix] = orjson.dumps(value).decode()
    else:
        into[prefix] = value


def _row(line: dict[str, Any]) -> dict[str, Any]:
    file = line.get("file") or {}
    row: dict[str, Any] = {name: line.get(name) for name in FIXED}
    row["file"] = file.get("url") or file.get("id") or file.get("name")
    row["name"] = file.get("name")  # as the producer gave it (an upload: the file's own name)
    flatten(line.get("outputs") or {}, "", row)
    return row


def to_csv(lines_path: Path, out: Path) -> int:
    """Two passes over the lines: the columns (every extracted field seen), then the rows."""
    fields: dict[str, None] = dict.fromkeys(FIXED)
    with lines_path.open("rb") as f:
        for raw in f:
            fields.update(dict.fromkeys(_row(orjson.loads(raw))))
    rows = 0
    with lines_path.open("rb") as f, out.open("w", newline="", encoding="utf-8") as w:
        writer = csv.DictWriter(w, fieldnames=list(fields))
        writer.writeheader()
        for raw in f:
            writer.writerow(_row(orjson.loads(raw)))
            rows += 1
    return rows

"""`relay queue`: the batches waiting to be sent, in send order, with share and ETA."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from relay_cli import client
from relay_cli.config import relay_client


def add_parser(sub: Any) -> None:
    queue = sub.add_parser("queue", help="show the send queue: priority, producer, share, ETA")
    queue.set_defaults(run=cmd_queue)


def cmd_queue(args: argparse.Namespace) -> int:
    status, answer = client.run(relay_client("queue"), "GET", "/v1/queue")
    if status >= 400:
        return client.failed(status, answer)
    table = Table(title=f"send queue ({answer['filesPerMinute']} files/min)")
    for name in ("batch", "producer", "priority", "weight", "share", "files left", "eta"):
        table.add_column(name, justify="right" if name != "batch" else "left")
    for b in answer["batches"]:
        table.add_row(
            b["batchId"],
            b["producer"],
            str(b["priority"]),
            f"{b['weight']:g}",
            f"{b['share']:.0%}",
            str(b["filesLeft"]),
            b["eta"] or "-",
        )
    # Piped output keeps whole ids and times (rich would fold them at 80 columns).
    console = Console() if sys.stdout.isatty() else Console(width=160)
    console.print(table if answer["batches"] else "nothing waiting to be sent")
    return 0

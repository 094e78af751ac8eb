"""`relay dlq list|show|redrive|purge`: the dead letters, through the /v1 API (RELAY_URL)."""

from __future__ import annotations

import argparse
from typing import Any

from relay_cli import client
from relay_cli.config import relay_client
from relay_cli.deploys import table
from relay_core.settings import ConfigError

COLUMNS = ("id", "kind", "tries", "lastFailedAt", "error")


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("dlq", help="dead letters: list, show, redrive, purge (via RELAY_URL)")
    actions = parser.add_subparsers(dest="action", required=True)
    ls = actions.add_parser("list", help="most recent failure first")
    ls.add_argument("--kind")
    ls.add_argument("--cursor")
    ls.add_argument("--limit", type=int, default=50)
    show = actions.add_parser("show", help="one dead letter and what a redrive needs")
    show.add_argument("id")
    redrive = actions.add_parser("redrive", help="queue one (ID) or all of a kind (--kind) again")
    redrive.add_argument("id", nargs="?")
    redrive.add_argument("--kind")
    purge = actions.add_parser("purge", help="forget one and drop what it held")
    purge.add_argument("id")
    for p in (ls, show, redrive, purge):
        p.add_argument("--json", action="store_true", help="print the API's JSON")
    parser.set_defaults(run=cmd_dlq)


def request(args: argparse.Namespace) -> tuple[str, str, dict[str, str]]:
    if args.action == "list":
        params = {"limit": str(args.limit)}
        params.update({n: getattr(args, n) for n in ("kind", "cursor") if getattr(args, n)})
        return "GET", "/v1/dead-letters", params
    if args.action == "show":
        return "GET", f"/v1/dead-letters/{args.id}", {}
    if args.action == "purge":
        return "DELETE", f"/v1/dead-letters/{args.id}", {}
    if bool(args.id) == bool(args.kind):
        raise ConfigError("dlq redrive: give either a dead letter id or --kind")
    if args.id:
        return "POST", f"/v1/dead-letters/{args.id}/redrive", {}
    return "POST", "/v1/dead-letters/redrive", {"kind": args.kind}


def cmd_dlq(args: argparse.Namespace) -> int:
    relay = relay_client("dlq")
    method, path, params = request(args)
    status, answer = client.run(relay, method, path, params=params)
    if status >= 400:
        return client.failed(status, answer)
    return client.shown(answer, args.json, lambda: render(args, answer))


def render(args: argparse.Namespace, answer: Any) -> str:
    if args.action == "list":
        if not answer["deadLetters"]:
            return "no dead letters"
        lines = table(list(COLUMNS), [row(d) for d in answer["deadLetters"]])
        return lines + (f"\nmore: --cursor {answer['nextCursor']}" if answer["nextCursor"] else "")
    if args.action == "show":
        return "\n".join(f"{k}: {v}" for k, v in answer.items())
    if args.action == "purge":
        return f"purged {answer['purged']}"
    return f"redriven: {answer['redriven']}"


def row(d: dict[str, Any]) -> list[str]:
    return [
        str(d["id"]),
        str(d["kind"]),
        str(d["tries"]),
        str(d["lastFailedAt"]),
        str(d["error"])[:60],
    ]

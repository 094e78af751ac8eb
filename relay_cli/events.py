"""`relay events list|replay`: the event log, through the /v1 API (RELAY_URL).

`relay events replay --since 2h [--type T] [--run ID]` re-applies logged webhook events through
the same apply job; replaying leaves the state as it was, or repairs it after an apply fix.
"""

from __future__ import annotations

import argparse
from typing import Any

import orjson

from relay_cli import client
from relay_cli.config import relay_client
from relay_cli.deploys import table


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("events", help="the event log: list or replay (via RELAY_URL)")
    actions = parser.add_subparsers(dest="action", required=True)
    ls = actions.add_parser("list", help="logged events, oldest first")
    replay = actions.add_parser("replay", help="apply logged events again")
    for p in (ls, replay):
        p.add_argument("--since", default="1h", help="RFC 3339 or a duration (30m, 2h, 3d)")
        p.add_argument("--type", help="only this eventType")
        p.add_argument("--run", dest="run_id", help="only events of this run id")
        p.add_argument("--json", action="store_true", help="print the API's JSON")
    ls.add_argument("--limit", type=int, default=100)
    ls.add_argument("--cursor")
    parser.set_defaults(run=cmd_events)


def request(args: argparse.Namespace) -> tuple[str, str, dict[str, str], Any]:
    chosen = {"since": args.since, "type": args.type, "run": args.run_id}
    chosen = {k: v for k, v in chosen.items() if v}
    if args.action == "replay":
        return "POST", "/v1/events/replay", {}, chosen
    params = {**chosen, "limit": str(args.limit)}
    if args.cursor:
        params["cursor"] = args.cursor
    return "GET", "/v1/events", params, None


def cmd_events(args: argparse.Namespace) -> int:
    relay = relay_client("events")
    method, path, params, body = request(args)
    # A replay re-applies logged events through the idempotent apply job: safe to send again.
    status, answer = client.run(relay, method, path, params=params, json=body, safe=True)
    if status >= 400:
        return client.failed(status, answer)
    if args.json:
        print(orjson.dumps(answer, option=orjson.OPT_INDENT_2).decode())
    elif args.action == "replay":
        print(f"replaying {answer['events']} events in {answer['groups']} groups")
    else:
        rows = [
            [e["loggedAt"], e["eventType"], e["eventId"], e["runId"] or ""]
            for e in answer["events"]
        ]
        print(table(["loggedAt", "eventType", "eventId", "runId"], rows) if rows else "no events")
        if answer["nextCursor"]:
            print(f"more: --cursor {answer['nextCursor']}")
    return 0

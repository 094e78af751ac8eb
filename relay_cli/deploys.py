"""`relay deploys`: list deploys, show one, list rules, deploy a rule by hand.

A thin client of a running web process's /v1 API (RELAY_URL, RELAY_API_KEY): the CLI never
touches Redis, so it shows exactly what the API answers.
"""

from __future__ import annotations

import argparse
from typing import Any

from relay_cli import client
from relay_cli.config import relay_client

COLUMNS = ("id", "status", "provider", "target", "version", "detail", "createdAt")


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("deploys", help="list deploys or deploy a rule (via RELAY_URL)")
    parser.add_argument("--json", action="store_true", help="print the API's JSON")
    actions = parser.add_subparsers(dest="action")
    ls = actions.add_parser("list", help="list deploys, newest first (the default)")
    _list_args(ls)
    _list_args(parser)
    show = actions.add_parser("show", help="one deploy with its attempts")
    show.add_argument("deploy_id")
    actions.add_parser("rules", help="the configured rules")
    run = actions.add_parser("run", help="deploy a rule now (same path and audit as a trigger)")
    run.add_argument("rule")
    run.add_argument("--subject", help="run or batch id; repeated requests deploy once")
    diff = actions.add_parser("diff", help="steps a rule would deploy vs the target's latest")
    diff.add_argument("rule")
    back = actions.add_parser("rollback", help="deploy an earlier version's steps again")
    back.add_argument("rule")
    back.add_argument("--to", required=True, help='"previous" or a version number such as 3')
    back.add_argument("--subject", help="repeated requests with one subject roll back once")
    for p in (ls, show, run, diff, back, actions.choices["rules"]):
        p.add_argument("--json", action="store_true", help="print the API's JSON")
    parser.set_defaults(run=cmd_deploys)


def _list_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rule")
    parser.add_argument("--status")
    parser.add_argument("--cursor")
    parser.add_argument("--limit", type=int, default=50)


def cmd_deploys(args: argparse.Namespace) -> int:
    relay = relay_client("deploys")
    method, path, params, body = _request(args)
    # With a subject, a repeated run or rollback deploys once: safe to send again.
    safe = isinstance(body, dict) and "subject" in body
    status, answer = client.run(relay, method, path, params=params, json=body, safe=safe)
    if status >= 400:
        return client.failed(status, answer)
    return client.shown(answer, args.json, lambda: render(args, answer))


def _request(args: argparse.Namespace) -> tuple[str, str, dict[str, str], Any]:
    action = args.action or "list"
    if action == "show":
        return "GET", f"/v1/deploys/{args.deploy_id}", {}, None
    if action == "rules":
        return "GET", "/v1/rules", {}, None
    if action == "run":
        body = {"subject": args.subject} if args.subject else {}
        return "POST", f"/v1/rules/{args.rule}/deploy", {}, body
    if action == "diff":
        return "GET", f"/v1/rules/{args.rule}/diff", {}, None
    if action == "rollback":
        body = {"to": args.to, **({"subject": args.subject} if args.subject else {})}
        return "POST", f"/v1/rules/{args.rule}/rollback", {}, body
    params = {"limit": str(args.limit)}
    for name in ("rule", "status", "cursor"):
        if getattr(args, name):
            params[name] = getattr(args, name)
    return "GET", "/v1/deploys", params, None


def render(args: argparse.Namespace, answer: Any) -> str:
    action = args.action or "list"
    if action == "rules":
        rows = [
            [r["name"], r["on"], r["workflow"], r["provider"], r["target"], str(r["dryRun"])]
            for r in answer["rules"]
        ]
        return table(["name", "on", "workflow", "provider", "target", "dryRun"], rows)
    if action == "diff":
        return render_diff(answer)
    if action in ("run", "rollback"):
        return table(list(COLUMNS), [row(answer["deploy"])])
    if action == "show":
        return "\n".join([table(list(COLUMNS), [row(answer)]), *detail_lines(answer)])
    lines = table(list(COLUMNS), [row(d) for d in answer["deploys"]])
    if answer.get("nextCursor"):
        lines += f"\nmore: --cursor {answer['nextCursor']}"
    return lines


def row(deploy: dict[str, Any]) -> list[str]:
    version = deploy.get("version") or {}
    shown = version.get("number") or version.get("id") or ""
    error = deploy.get("error") or {}
    detail = deploy.get("gate") or error.get("message") or deploy.get("reason") or ""
    return [
        str(deploy.get("id")),
        str(deploy.get("status")),
        str(deploy.get("provider")),
        str(deploy.get("target")),
        str(shown),
        str(detail)[:60],
        str(deploy.get("createdAt")),
    ]


def detail_lines(deploy: dict[str, Any]) -> list[str]:
    lines = []
    if deploy.get("reason"):
        lines.append(f"reason: {deploy['reason']}")
    if deploy.get("evalId"):
        lines.append(f"evaluation: relay evals show {deploy['evalId']}")
    if deploy.get("status") == "deployed":
        lines.append(read_back_line(deploy))
    return lines


def read_back_line(deploy: dict[str, Any]) -> str:
    verified = deploy.get("verified")
    if deploy.get("superseded"):
        newer = deploy["superseded"]
        shown = newer.get("version") or newer.get("number") or newer.get("id")
        return f"read back: superseded by {shown}"
    if verified is None:
        error = (deploy.get("readBack") or {}).get("error")
        return f"read back: {error}" if error else "read back: not yet"
    return f"read back: verified {str(verified).lower()}"


def render_diff(answer: dict[str, Any]) -> str:
    source, target = answer["source"], answer["target"]
    head = (
        f"{answer['rule']}: {source.get('workflow') or 'rule'} {source.get('version')} "
        f"-> {target.get('workflow')} latest ({target.get('version')})"
    )
    rows = [
        [r["step"], r["change"], str(r.get("type") or ""), ", ".join(r["keys"])]
        for r in answer["steps"]
    ]
    if not rows:
        return head + "\nno step differs"
    return head + "\n" + table(["step", "change", "type", "changed keys"], rows)


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in [header, *rows]]
    return "\n".join(line.rstrip() for line in lines)

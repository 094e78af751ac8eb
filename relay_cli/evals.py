"""`relay evals`: recent evaluations, and one evaluation's report as tables.

A thin client of the /v1 API (RELAY_URL, RELAY_API_KEY), like `relay deploys`.
"""

from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import urlsplit

import orjson

from relay_cli import client
from relay_cli.config import relay_client
from relay_cli.deploys import table

WORST_SHOWN = 10


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("evals", help="evaluations of deploy candidates (via RELAY_URL)")
    actions = parser.add_subparsers(dest="action")
    ls = actions.add_parser("list", help="recent evaluations (the default)")
    ls.add_argument("--limit", type=int, default=20)
    show = actions.add_parser("show", help="one evaluation: per-field accuracy, worst files")
    show.add_argument("eval_id")
    for p in (parser, ls, show):
        p.add_argument("--json", action="store_true", help="print the API's JSON")
    parser.set_defaults(run=cmd_evals, limit=20)


def cmd_evals(args: argparse.Namespace) -> int:
    relay = relay_client("evals")
    if args.action == "show":
        path, params = f"/v1/evals/{args.eval_id}", {}
    else:
        path, params = "/v1/evals", {"limit": str(args.limit)}
    status, answer = client.run(relay, "GET", path, params=params)
    if status >= 400:
        return client.failed(status, answer)
    if args.json:
        print(orjson.dumps(answer, option=orjson.OPT_INDENT_2).decode())
    elif args.action == "show":
        print(render_eval(answer))
    else:
        print(render_list(answer["evals"]))
    return 0


def _pct(value: Any) -> str:
    return f"{value * 100:.1f}%" if isinstance(value, int | float) else "-"


def render_list(evals: list[dict[str, Any]]) -> str:
    rows = [
        [
            str(e["id"]),
            str(e["state"]),
            _pct(e.get("accuracy")),
            _pct(e.get("baselineAccuracy")),
            str(e["files"]),
            str(e.get("createdAt")),
        ]
        for e in evals
    ]
    if not rows:
        return "no evaluations yet"
    return table(["id", "state", "accuracy", "baseline", "files", "createdAt"], rows)


def render_eval(ev: dict[str, Any]) -> str:
    candidate = ev.get("candidate") or {}
    lines = [
        f"eval {ev['id']} ({ev['rule']}): {ev['state']}"
        + (f" — {ev['reason']}" if ev.get("reason") else ""),
        f"candidate {candidate.get('workflow')} {candidate.get('ref')}: {_pct(ev.get('accuracy'))}"
        + (
            f"   baseline {ev['baseline']['workflow']} v{ev['baseline']['ref']}: "
            f"{_pct(ev.get('baselineAccuracy'))}"
            if ev.get("baseline")
            else ""
        ),
    ]
    report = (ev.get("report") or {}).get("candidate")
    if not report:
        return "\n".join([*lines, "no report yet (its batches are running)"])
    baseline = ((ev.get("report") or {}).get("baseline") or {}).get("perField", {})
    rows = [
        [name, _pct(f["accuracy"]), f"{f['matched']}/{f['total']}", _pct(_acc(baseline, name))]
        for name, f in report["perField"].items()
    ]
    lines += ["", table(["field", "accuracy", "matched", "baseline"], rows)]
    worst = report.get("files") or []
    if worst:
        lines += ["", "worst files:"]
        rows = [_worst_row(w) for w in worst[:WORST_SHOWN]]
        lines.append(table(["file", "accuracy", "differences"], rows))
    failed = report.get("failedRuns") or []
    if failed:
        lines.append(f"\n{len(failed)} file(s) without a usable run")
    return "\n".join(lines)


def _acc(per_field: dict[str, Any], name: str) -> Any:
    entry = per_field.get(name)
    return entry.get("accuracy") if isinstance(entry, dict) else None


def _worst_row(item: dict[str, Any]) -> list[str]:
    f = item["file"]
    url = f.get("url")
    # The file name tells a golden file apart better than a long URL's first characters.
    named = urlsplit(url).path.rsplit("/", 1)[-1] if isinstance(url, str) else None
    shown = f.get("name") or named or url or f.get("id") or str(f.get("text", ""))[:40]
    if item.get("error"):
        detail = str(item["error"])
    else:
        detail = "; ".join(
            f"{d['field']}: {d['actual']!r} != {d['expected']!r}" for d in item["diffs"]
        )
    return [str(shown)[:60], _pct(item["accuracy"]), detail[:100]]

"""`python -m bench [b1 ... b7]`: run scenarios, write bench/results/latest.{json,md} (a scenario
run again replaces its earlier result; the others are kept)."""

from __future__ import annotations

import importlib
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import orjson

SCENARIOS = {
    "b1": "bench.b1_ingest",
    "b2": "bench.b2_apply",
    "b3": "bench.b3_fanout",
    "b4": "bench.b4_memory",
    "b5": "bench.b5_end_to_end",
    "b6": "bench.b6_fairness",
    "b7": "bench.b7_submission",
    "b8": "bench.b8_capacity",
}
RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "processor": platform.processor() or platform.machine(),
    }


def markdown(results: list[dict[str, Any]], info: dict[str, Any]) -> str:
    lines = [
        f"Machine: {info['cpu_count']} cores, {info['platform']}, Python {info['python']}",
        "",
        "| scenario | figure | baseline | ratio / goal | met |",
        "|---|---|---|---|---|",
    ]
    for result in results:
        lines.append(row(result))
    return "\n".join(lines) + "\n"


def row(r: dict[str, Any]) -> str:
    missed = [goal for goal, ok in r.get("goals", {}).items() if not ok]
    met = "yes" if not missed else "no: " + ", ".join(f"`{goal}`" for goal in missed)
    name = r["scenario"]
    if name == "B1 ingest":
        rw, b = r["relay_web"], r["baseline_bare_aiohttp"]
        return (
            f"| {name} | {rw['rps']:.0f} req/s, p50 {rw['p50_ms']:.1f} ms, p99 {rw['p99_ms']:.1f} ms"
            f" (median of {r.get('rounds', 1)} alternating rounds)"
            f" | bare aiohttp {b['rps']:.0f} req/s | {r['ratio_rps']:.2f}× (goal ≥ 0.5×, p99 ≤ 10 ms) | {met} |"
        ) + "".join(
            f"\n| B1 {name} | {v['rps']:.0f} req/s, p99 {v['p99_ms']:.1f} ms, {v['connections']} conns"
            f" | bare aiohttp {b['rps']:.0f} req/s | {v['ratio_rps']:.2f}× | — |"
            for name, v in r.get("variants", {}).items()
        )
    if name == "B2 apply":
        return (
            f"| {name} | {r['relay_events_per_s']:.0f} events/s ({r['jobs_queued']} jobs) | "
            f"no-op arq jobs {r['baseline_noop_jobs_per_s']:.0f}/s | {r['ratio']:.1f}× (goal ≥ 2×) | {met} |"
        )
    if name == "B4 memory":
        return (
            f"| {name} | retention on (default; hourly expiry lists) "
            f"{r['bytes_per_run_with_retention']:.0f} B/run, a TTL per run instead "
            f"{r['bytes_per_run_ttl_each_instead']:.0f} B/run; retention off "
            f"{r['bytes_per_run']:.0f} B/run; {r['bytes_per_event_id']:.0f} B/event id; "
            f"a relay batch's run with its file→run entry {r['bytes_per_batch_run']:.0f} B | "
            f"— | goal ≤ 300 B/run (stretch 200) | {met} |"
        )
    summary = r.get("summary", "")
    return f"| {name} | {summary} | {r.get('baseline', '—')} | {r.get('ratio', '—')} | {met} |"


def merged(fresh: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Scenarios run now replace their earlier results; the others are kept, in order."""
    path = RESULTS / "latest.json"
    kept = orjson.loads(path.read_bytes())["results"] if path.exists() else []
    by_name = {r["scenario"]: r for r in kept}
    by_name.update({r["scenario"]: r for r in fresh})
    # In scenario order (B1, B1 variants, B2, ...), whatever order they were run in.
    return [by_name[name] for name in sorted(by_name, key=_order)]


def _order(name: str) -> tuple[int, str]:
    number = name.split()[0].lstrip("B")
    return (int(number) if number.isdigit() else 99, name)


def main(argv: list[str]) -> int:
    chosen = [a.lower() for a in argv] or list(SCENARIOS)
    unknown = [c for c in chosen if c not in SCENARIOS]
    if unknown:
        print(
            f"unknown scenario(s): {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}",
            file=sys.stderr,
        )
        return 2
    results = []
    for name in chosen:
        started = time.perf_counter()
        print(f"bench: running {name} ...", file=sys.stderr, flush=True)
        result: dict[str, Any] = importlib.import_module(SCENARIOS[name]).run()
        result["wall_seconds"] = round(time.perf_counter() - started, 1)
        results.append(result)
        print(orjson.dumps(result).decode(), file=sys.stderr)
    info = machine()
    RESULTS.mkdir(exist_ok=True)
    results = merged(results)
    payload = {
        "machine": info,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "results": results,
    }
    (RESULTS / "latest.json").write_bytes(orjson.dumps(payload, option=orjson.OPT_INDENT_2))
    table = markdown(results, info)
    (RESULTS / "latest.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

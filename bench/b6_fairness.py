"""B6 fairness: a 10,000-file backfill from one producer, and a 10-file batch every 10 s from a
second producer, alternating priority 1 and 90, under a files-per-minute limit that the
backfill alone would need about five minutes to use.

Reported: each small batch's completion time (submit → completed, server clock) against its
fair-share time (its files over its share of the limit: 1 for priority 1, 1/2 for priority 90
beside the backfill), and the share of the limit used (alone, and throughout)."""

from __future__ import annotations

import os
import statistics
import time
from datetime import datetime
from typing import Any

import httpx
import orjson

from bench.stack import relay_stack

PER_MINUTE = int(os.environ.get("B6_PER_MINUTE", "2000"))
BIG, SMALL = int(os.environ.get("B6_FILES", "10000")), 10
EVERY, ALONE = 10.0, 30.0
# SCHED_SLOT_SECONDS: the most a newcomer waits behind work already sent.
SLOT = float(os.environ.get("B6_SLOT", "0.25"))
WORKFLOW = "workflow_b6"
KEYS = "bench-key,backfill:bk_b6:read+submit,interactive:ik_b6:read+submit"


def client(base: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60)


def submit(api: httpx.Client, n: int, prefix: str, priority: int | None = None) -> str:
    body: dict[str, Any] = {
        "workflowId": WORKFLOW,
        "files": [{"url": f"https://files.example.com/{prefix}/{i}.pdf"} for i in range(n)],
    }
    if priority is not None:
        body["priority"] = priority
    resp = api.post("/v1/batches", json=body)
    resp.raise_for_status()
    return str(resp.json()["batchId"])


def sent(view: dict[str, Any]) -> int:
    return int(view["files"] - view["queued"] - view["notSubmitted"])


def ms(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def scenario(web_url: str) -> dict[str, Any]:
    rate = PER_MINUTE / 60
    with client(web_url, "bk_b6") as backfill, client(web_url, "ik_b6") as small_api:
        big = submit(backfill, BIG, "big")
        started = time.monotonic()
        while time.monotonic() - started < 5:
            time.sleep(0.2)
        sent_5 = sent(backfill.get(f"/v1/batches/{big}").json())
        while time.monotonic() - started < ALONE:
            time.sleep(0.2)
        sent_alone = sent(backfill.get(f"/v1/batches/{big}").json())
        alone_share = (sent_alone - sent_5) / ((ALONE - 5) * rate)
        smalls: list[dict[str, Any]] = []
        next_at, open_ids = time.monotonic(), []
        while True:
            view = backfill.get(f"/v1/batches/{big}").json()
            if view["queued"] == 0 and not open_ids:
                break
            if view["queued"] > 0 and time.monotonic() >= next_at:
                priority = 1 if len(smalls) % 2 == 0 else 90
                batch_id = submit(small_api, SMALL, f"s{len(smalls)}", priority)
                smalls.append({"batchId": batch_id, "priority": priority})
                open_ids.append(batch_id)
                next_at += EVERY
            for batch_id in list(open_ids):
                small = small_api.get(f"/v1/batches/{batch_id}").json()
                if small["completedAt"]:
                    entry = next(s for s in smalls if s["batchId"] == batch_id)
                    entry["seconds"] = ms(small["completedAt"]) - ms(small["createdAt"])
                    open_ids.remove(batch_id)
            time.sleep(0.05)
        ended = time.monotonic()
        total = sent_alone - sent_5 + (BIG - sent_alone) + SMALL * len(smalls)
        throughout = total / ((ended - started - 5) * rate)
    return {"alone": alone_share, "throughout": throughout, "smalls": smalls, "rate": rate}


def run() -> dict[str, Any]:
    sandbox = {
        "processing": {"pending_seconds": 0, "processing_seconds": 0},
        "rate_limits": {"run_rps": 50, "files_per_minute": PER_MINUTE},
        "workflows": {"extend": [{"id": WORKFLOW, "name": "B6"}]},
        "webhooks": {"concurrency": 64},
    }
    relay = {
        "EXTEND_FILES_PER_MINUTE": str(PER_MINUTE),
        "EXTEND_RUN_RPS": "50",
        "RELAY_API_KEYS": KEYS,
        "SCHED_SLOT_SECONDS": str(SLOT),
    }
    with relay_stack(sandbox, relay) as stack:
        found = scenario(stack.web_url)
    rate, smalls = found["rate"], found["smalls"]
    for small in smalls:
        share = 1.0 if small["priority"] == 1 else 0.5
        small["fair_seconds"] = SMALL / (share * rate)
        small["ratio"] = round(small["seconds"] / small["fair_seconds"], 2)
        small["seconds"] = round(small["seconds"], 3)
    urgent = [s for s in smalls if s["priority"] == 1]
    normal = [s for s in smalls if s["priority"] == 90]
    worst_normal = max(s["ratio"] for s in normal)
    worst_urgent_over = max(s["seconds"] - s["fair_seconds"] for s in urgent)
    goals = {
        "p90 small ≤ 2× fair share": worst_normal <= 2.0,
        "p1 small ≤ fair + one slot": worst_urgent_over <= SLOT,
        "limit used ≥ 0.9": found["throughout"] >= 0.9,
        "alone ≥ 0.95": found["alone"] >= 0.95,
    }
    med_normal = statistics.median(s["seconds"] for s in normal)
    med_urgent = statistics.median(s["seconds"] for s in urgent)
    return {
        "scenario": "B6 fairness",
        "files_per_minute": PER_MINUTE,
        "small_batches": smalls,
        "share_used_alone": round(found["alone"], 3),
        "share_used_throughout": round(found["throughout"], 3),
        "summary": (
            f"priority 90: median {med_normal:.2f} s, worst {worst_normal:.2f}× fair "
            f"({SMALL / (0.5 * rate):.2f} s); priority 1: median {med_urgent:.2f} s, worst "
            f"{worst_urgent_over:+.2f} s over fair ({SMALL / rate:.2f} s); limit used "
            f"{found['throughout']:.2f} (alone {found['alone']:.2f})"
        ),
        "baseline": "fair-share time per small batch",
        "ratio": "goal ≤ 2× (p1: fair + one slot), limit ≥ 0.9 (alone ≥ 0.95)",
        "goals": goals,
    }


if __name__ == "__main__":
    print(orjson.dumps(run(), option=orjson.OPT_INDENT_2).decode())

"""B5 end to end: 10,000 files, instant processing: submit → batch completed, against the floor
the RUN rate limit implies (chunks / limit)."""

from __future__ import annotations

import math
import time
from typing import Any

import orjson

from bench.stack import relay_stack, submit_files, wait_state

FILES = 10_000
RPS = 50
CHUNK = 50
WORKFLOW = "workflow_b5"


def wait_submitted(api: Any, batch_id: str, started: float) -> float:
    """Seconds from submit until every chunk was accepted (the rest is events catching up)."""
    while True:
        chunks = api.get(f"/v1/batches/{batch_id}").json()["chunks"]
        if chunks["submitted"] + chunks["failed"] >= chunks["total"]:
            return time.perf_counter() - started
        time.sleep(0.02)


def run() -> dict[str, Any]:
    sandbox = {
        "processing": {"pending_seconds": 0, "processing_seconds": 0},
        "rate_limits": {"run_rps": RPS, "files_per_minute": 10_000_000},
        "workflows": {"extend": [{"id": WORKFLOW, "name": "B5"}]},
        # Extend delivers webhooks in parallel; 16 in flight would make the stand-in the bottleneck.
        "webhooks": {"concurrency": 64},
    }
    relay = {"EXTEND_RUN_RPS": str(RPS), "EXTEND_FILES_PER_MINUTE": "10000000"}
    with relay_stack(sandbox, relay) as stack, stack.api() as api:
        started = time.perf_counter()
        created = submit_files(api, WORKFLOW, FILES, CHUNK)
        sent_s = wait_submitted(api, created["batchId"], started)
        status = wait_state(api, created["batchId"], {"completed", "cancelled"}, within=600)
        elapsed = time.perf_counter() - started
    # A token bucket starts full (one request at once), then RPS per second.
    floor = max(1, math.ceil(FILES / CHUNK) - 1) / RPS
    ratio = elapsed / floor
    return {
        "scenario": "B5 end to end",
        "files": FILES,
        "seconds": round(elapsed, 2),
        "floor_seconds": round(floor, 2),
        "ratio_to_floor": round(ratio, 2),
        "all_chunks_sent_after_s": round(sent_s, 2),
        "state": status.get("state"),
        "summary": f"{elapsed:.1f} s submit→completed ({status.get('state')})",
        "baseline": f"rate-limit floor {floor:.1f} s",
        "ratio": f"{ratio:.2f}× (goal ≤ 1.3×)",
        "goals": {"ratio<=1.3": ratio <= 1.3, "completed": status.get("state") == "completed"},
    }


if __name__ == "__main__":
    print(orjson.dumps(run(), option=orjson.OPT_INDENT_2).decode())

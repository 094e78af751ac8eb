"""B3 fan-out: 10,000 files against the sandbox with a RUN limit of 50 requests/s.

The baseline is the limit itself: share of the limit used, 429s per request, duplicates, losses.
"""

from __future__ import annotations

from typing import Any

import orjson

from bench.stack import relay_stack, run_counts, submit_files, wait_state

FILES = 10_000
RPS = 50
CHUNK = 50
WORKFLOW = "workflow_b3"


def run() -> dict[str, Any]:
    sandbox = {
        "processing": {"pending_seconds": 0, "processing_seconds": 0},
        "rate_limits": {"run_rps": RPS, "files_per_minute": 10_000_000},
        "workflows": {"extend": [{"id": WORKFLOW, "name": "B3"}]},
    }
    relay = {"EXTEND_RUN_RPS": str(RPS), "EXTEND_FILES_PER_MINUTE": "10000000"}
    with relay_stack(sandbox, relay) as stack, stack.api() as api, stack.sandbox() as sb:
        created = submit_files(api, WORKFLOW, FILES, CHUNK)
        status = wait_state(api, created["batchId"], {"completed", "cancelled"}, within=300)
        requests = sb.get(
            "/_sandbox/requests", params={"path": "/workflow_runs/batch", "method": "POST"}
        ).json()
        files_with_run, duplicates = run_counts(sb, created["batchId"])
    sent = requests["requests"]
    accepted = [r for r in sent if r["status"] == 200]
    throttled = [r for r in sent if r["status"] == 429]
    span = (
        max(r["at"] for r in accepted) - min(r["at"] for r in accepted)
        if len(accepted) > 1
        else 0.0
    )
    rate = (len(accepted) - 1) / span if span else 0.0
    share = rate / RPS
    return {
        "scenario": "B3 fan-out",
        "files": FILES,
        "limit_rps": RPS,
        "requests": len(sent),
        "accepted_requests": len(accepted),
        "achieved_rps": round(rate, 2),
        "files_per_s": round(rate * CHUNK, 1),
        "share_of_limit": round(share, 3),
        "throttled_per_request": round(len(throttled) / max(1, len(sent)), 4),
        "duplicate_runs": duplicates,
        "lost_files": FILES - files_with_run,
        "batch_state": status.get("state"),
        "summary": f"{rate:.1f} req/s of {RPS} ({share:.0%}), {len(throttled)} 429s, {duplicates} dup, "
        f"{FILES - files_with_run} lost",
        "baseline": f"limit {RPS} req/s",
        "ratio": f"{share:.2f} (goal ≥ 0.9)",
        "goals": {
            "share>=0.9": share >= 0.9,
            "429s<=1%": len(throttled) <= 0.01 * max(1, len(sent)),
            "no_duplicates": duplicates == 0,
            "no_loss": files_with_run == FILES,
        },
    }


if __name__ == "__main__":
    print(orjson.dumps(run(), option=orjson.OPT_INDENT_2).decode())

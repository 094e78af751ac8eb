"""R5: the platform answers 20% 500s, 10% 429s and loses 5% of its answers after committing.

On every platform route (run creation, and the list and get requests the worker's looks
make), a 1,000-file batch in chunks of 10 completes with exactly one run per file.
"""

from __future__ import annotations

from collections import Counter

import pytest
from redis.asyncio import Redis

from tests.batches.support import files, sandbox_config, stack
from tests.faults.support import request_summary, runs_per_file

FILES = 1000
CHUNK = 10
FAULTS = {"p_500": 0.2, "p_429": 0.1, "p_commit_then_fail": 0.05, "commit_then_fail": "drop"}


@pytest.mark.timeout(180)
async def test_batch_completes_through_500s_429s_and_lost_answers(
    redis_url: str, redis: Redis
) -> None:
    async with stack(redis_url, sandbox_config(faults=FAULTS)) as st:
        st.start_worker()
        st.start_worker()
        batch_id = await st.submit(files(FILES), chunkSize=CHUNK)
        view = await st.wait_done(batch_id, timeout=150)
        per_file = await runs_per_file(st, batch_id)
        log = (await st.sandbox("GET", "/_sandbox/requests"))["requests"]

    summary = request_summary(log)
    print("R5 platform requests (endpoint, fault or status):", dict(summary))
    assert view["state"] == "completed"
    assert view["runs"]["PROCESSED"] == FILES and sum(view["runs"].values()) == FILES
    assert view["duplicateRuns"] == 0 and view["notSubmitted"] == 0
    assert set(per_file) == set(range(FILES)), "a file has no run"
    assert set(per_file.values()) == {1}, "a file has more than one run"
    # The faults fired, on run creation itself.
    faults = Counter(r["fault"] for r in log if r["endpoint"] == "POST /workflow_runs/batch")
    assert faults["500"] > 0 and faults["429"] > 0, faults
    lost = [r for r in log if r["fault"] == "commit_then_drop"]
    assert any(r["endpoint"] == "POST /workflow_runs/batch" for r in lost), faults
    assert all(r["status"] is None for r in lost)

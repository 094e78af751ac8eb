"""A batch end to end against the sandbox: chunks, dialects, every file exactly once."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from tests.batches.support import files, sandbox_config, stack


@pytest.mark.parametrize("dialect", ["2026-02-09", "2025-04-21"])
async def test_small_batch_completes(redis_url: str, redis: Redis, dialect: str) -> None:
    async with stack(redis_url, sandbox_config(), EXTEND_API_VERSION=dialect) as st:
        st.start_worker()
        batch_id = await st.submit(files(120), chunkSize=50)
        view = await st.wait_done(batch_id)
        assert view["state"] == "completed"
        assert view["runs"]["PROCESSED"] == 120
        assert view["chunks"] == {"total": 3, "submitted": 3, "failed": 0, "cancelled": 0, "size": 50}
        per_url = await st.runs_per_url()
        assert len(per_url) == 120 and set(per_url.values()) == {1}

"""`relay queue` and `relay status` show the schedule as a user reads it."""

from __future__ import annotations

from redis.asyncio import Redis

from tests.batches.support import files, sandbox_config, stack
from tests.batches.test_cli_batches import relay
from tests.conftest import API_KEY


async def test_queue_and_status_show_share_and_eta(redis_url: str, redis: Redis) -> None:
    async with stack(redis_url, sandbox_config(), EXTEND_FILES_PER_MINUTE=600) as st:
        env = {"RELAY_URL": st.base_url, "RELAY_API_KEY": API_KEY, "REDIS_URL": redis_url}
        code, _, err = await relay("queue", env=env)
        assert code == 0, err
        backfill = await st.submit(files(300, "q"))
        urgent = await st.submit(files(10, "u"), priority=1)
        code, out, err = await relay("queue", env=env)
        assert code == 0, err
        lines = [line for line in out.splitlines() if "rbatch_" in line]
        assert [urgent[:12] in lines[0], backfill[:12] in lines[1]] == [True, True]
        assert "100%" in lines[0] and "0%" in lines[1]
        code, out, err = await relay("status", urgent, env=env)
        assert code == 0, err
        assert "priority 1" in out and "share 100%" in out and "eta 20" in out

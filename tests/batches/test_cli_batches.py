"""`relay submit --wait` and `relay status` end to end, as a user runs them."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from redis.asyncio import Redis

from tests.batches.support import WF, sandbox_config, stack
from tests.conftest import API_KEY


async def relay(*args: str, env: dict[str, str], stdin: bytes = b"") -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "relay_cli.main",
        *args,
        env={**os.environ, **env},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin), timeout=60)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_submit_wait_and_status(redis_url: str, redis: Redis, tmp_path: Path) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text("".join(f"https://files.example/cli-{i}.pdf\n" for i in range(75)))
    async with stack(redis_url, sandbox_config()) as st:
        st.start_worker()
        env = {"RELAY_URL": st.base_url, "RELAY_API_KEY": API_KEY, "REDIS_URL": redis_url}
        code, out, err = await relay(
            "submit", "--workflow", WF, "--metadata", '{"via": "cli"}', "--wait", str(urls), env=env
        )
        assert code == 0, err
        batch_id, summary = out.strip().splitlines()
        assert batch_id.startswith("rbatch_") and summary == "completed: 75 of 75 processed"
        assert "PROCESSED" in err  # the progress bars
        code, out, _ = await relay("status", batch_id, env=env)
        assert code == 0 and "state completed" in out and "PROCESSED" in out
        code, _, err = await relay("submit", "--workflow", WF, "-", env=env, stdin=b"ftp://x/y\n")
        assert code == 1 and "files[0].url" in err

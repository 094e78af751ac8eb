"""`relay results` as a user runs it: .jsonl and .csv, resumed after an interruption."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from redis.asyncio import Redis

from ingest.app import create_app
from tests.batches.support import WF, Stack, sandbox_config, stack
from tests.batches.test_cli_batches import relay
from tests.batches.test_results import invoices
from tests.conftest import API_KEY
from tests.sandbox.support import STEPS

N = 120


async def test_results_jsonl_resumes_and_csv(redis_url: str, redis: Redis, tmp_path: Path) -> None:
    config = sandbox_config(workflows={"extend": [{"id": WF, "name": "Inv", "steps": STEPS}]})
    async with stack(redis_url, config) as st:
        batch_id = await st.submit(invoices(N))
        st.start_worker()
        await st.wait_done(batch_id)
        # A web process that reaches the sandbox (the stack's own answers webhooks only).
        runner = web.AppRunner(create_app(st.settings), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        env = {
            "RELAY_URL": f"http://127.0.0.1:{runner.addresses[0][1]}",
            "RELAY_API_KEY": API_KEY,
            "REDIS_URL": redis_url,
        }
        try:
            full = tmp_path / "full.jsonl"
            code, _, err = await relay("results", batch_id, "-o", str(full), env=env)
            assert code == 0, err
            lines = full.read_bytes().splitlines(keepends=True)
            assert [orjson.loads(x)["fileIndex"] for x in lines] == list(range(N))

            # Interrupted after 50 lines, the 51st half written: a re-run completes it.
            part = tmp_path / "part.jsonl"
            part.write_bytes(b"".join(lines[:50]) + lines[50][:20])
            before = len(await _run_reads(st))
            code, _, err = await relay("results", batch_id, "-o", str(part), env=env)
            assert code == 0, err
            assert part.read_bytes() == full.read_bytes()
            assert len(await _run_reads(st)) - before == N - 50  # only the rest was read

            table = tmp_path / "out.csv"
            code, out, err = await relay("results", batch_id, "-o", str(table), env=env)
            assert f"{N} rows written" in out
            assert code == 0, err
            with table.open(encoding="utf-8") as f:
                rows = list(csv.DictReader(f))
        finally:
            await runner.cleanup()
    assert len(rows) == N and not (tmp_path / "out.csv.jsonl").exists()
    assert rows[3]["number"] == "INV-3" and rows[3]["total"] == "3.5"
    assert rows[3]["status"] == "PROCESSED" and rows[3]["file"].endswith("total=3.5")


async def _run_reads(st: Stack) -> list[Any]:
    logged = (await st.sandbox("GET", "/_sandbox/requests", method="GET"))["requests"]
    return [r for r in logged if r["path"].startswith("/workflow_runs/")]

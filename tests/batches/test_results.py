"""GET /v1/batches/{id}/results: NDJSON in file order with the outputs read from the sandbox,
resumable by cursor, one platform read per run, within the GET rate limit's bucket."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from ingest.app import create_app
from relay_core import keys
from tests.batches.support import WF, sandbox_config, stack
from tests.conftest import auth
from tests.sandbox.support import STEPS

N = 230  # more than two pages of the export


def invoices(n: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(n):
        if i == 7:
            out.append({"text": "number: T-7\ntotal: 7", "name": "seven.txt"})
        else:
            out.append({"url": f"https://files.example/inv-{i}.pdf?number=INV-{i}&total={i}.5"})
    return out


async def read_lines(api: TestClient[Any, Any], batch_id: str, **query: str) -> list[Any]:
    resp = await api.get(f"/v1/batches/{batch_id}/results", params=query, headers=auth())
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"].startswith("application/x-ndjson")
    return [orjson.loads(line) for line in (await resp.read()).splitlines()]


async def test_results_in_file_order_with_outputs(redis_url: str, redis: Redis) -> None:
    config = sandbox_config(workflows={"extend": [{"id": WF, "name": "Inv", "steps": STEPS}]})
    async with stack(redis_url, config) as st:
        batch_id = await st.submit(invoices(N))
        st.start_worker()
        await st.wait_done(batch_id)
        async with TestClient(TestServer(create_app(st.settings))) as api:
            lines = await read_lines(api, batch_id)
            assert [line["fileIndex"] for line in lines] == list(range(N))
            assert all(line["status"] == "PROCESSED" and line["runId"] for line in lines)
            assert lines[3]["outputs"] == {"number": "INV-3", "total": 3.5}
            assert lines[3]["file"] == {"url": invoices(N)[3]["url"]} and not lines[3]["reviewed"]
            assert lines[7]["outputs"] == {"number": "T-7", "total": 7}
            assert lines[7]["file"] == {"name": "seven.txt"}  # a text is not repeated
            logged = (await st.sandbox("GET", "/_sandbox/requests", method="GET"))["requests"]
            gets = [r for r in logged if r["path"].startswith("/workflow_runs/")]
            assert len(gets) == N  # one read per run, nothing cached or repeated
            assert await redis.exists(keys.rate("extend:GET"))  # the shared GET bucket paced it
            resumed = await read_lines(api, batch_id, cursor="150")
            assert resumed == lines[150:]
            assert await read_lines(api, batch_id, cursor=str(N)) == []
            resp = await api.get(f"/v1/batches/{batch_id}/results?cursor=x", headers=auth())
            assert resp.status == 400
            resp = await api.get("/v1/batches/rbatch_nope/results", headers=auth())
            assert resp.status == 404
        # The stack's own web process has no EXTEND_API_KEY: it says so instead of failing.
        status, body = await st.call("GET", f"/v1/batches/{batch_id}/results")
        assert status == 503 and body["error"]["code"] == "not_configured"


async def test_failed_files_carry_their_reason(redis_url: str, redis: Redis) -> None:
    config = sandbox_config(processing={"p_failed": 1.0})
    async with stack(redis_url, config) as st:
        batch_id = await st.submit([{"url": "https://files.example/a.pdf"}])
        st.start_worker()
        await st.wait_done(batch_id)
        async with TestClient(TestServer(create_app(st.settings))) as api:
            (line,) = await read_lines(api, batch_id)
    assert line["status"] == "FAILED" and line["failureReason"] and line["outputs"] is None


async def test_results_2025_dialect_reads_outputs(redis_url: str, redis: Redis) -> None:
    config = sandbox_config(workflows={"extend": [{"id": WF, "name": "Inv", "steps": STEPS}]})
    async with stack(redis_url, config, EXTEND_API_VERSION="2025-04-21") as st:
        batch_id = await st.submit(invoices(12))
        st.start_worker()
        await st.wait_done(batch_id)
        async with TestClient(TestServer(create_app(st.settings))) as api:
            lines = await read_lines(api, batch_id)
    assert [x["fileIndex"] for x in lines] == list(range(12))
    assert lines[5]["outputs"] == {"number": "INV-5", "total": 5.5}
    assert lines[7]["outputs"] == {"number": "T-7", "total": 7}

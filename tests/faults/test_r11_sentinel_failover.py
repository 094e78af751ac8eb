"""R11: a primary, a replica and three Sentinels; the primary is SIGKILLed during webhook
deliveries and a fan-out.

`relay web` (WEBHOOK_ACK_DURABILITY=replica) and `relay worker` run as real processes on the
Sentinel URL. The failover completes and both carry on by themselves (503 while it switches,
then 200), no acknowledged event is lost, and every file has exactly one run. The old primary
is restarted after the failover as the new primary's replica, as a Sentinel-aware supervisor
does: `replica` acknowledgements need one. The time to recover is printed.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from relay_core import keys
from relay_core.redis.client import connect
from sandbox import start_sandbox
from tests.batches.support import WF, files, sandbox_config
from tests.conftest import API_KEY, make_settings
from tests.faults.support import settings_env
from tests.support.procs import RelayProcess
from tests.support.redis_server import free_port
from tests.support.sentinel_cluster import SentinelCluster
from tests.support.wait import until

FILES = 400
CHUNK = 10
KILL_AT_CHUNKS = 10  # of 40: the fan-out is under way, and so are the deliveries


async def get_json(http: aiohttp.ClientSession, url: str, **headers: str) -> tuple[int, Any]:
    try:
        async with http.get(url, headers=headers) as resp:
            return resp.status, await resp.json()
    except aiohttp.ClientError:
        return 0, None


@pytest.mark.timeout(120)
async def test_failover_during_deliveries_and_a_fan_out(tmp_path: Path) -> None:
    cluster = SentinelCluster().start()
    port = free_port()
    web_url = f"http://127.0.0.1:{port}"
    config = sandbox_config(
        webhook_urls=[f"{web_url}/webhooks/extend"],
        webhooks={
            "max_attempts": 200,
            "backoff_base_seconds": 0.05,
            "backoff_max_seconds": 0.5,
            "timeout_seconds": 10,
            "concurrency": 16,
        },
    )
    sb = await start_sandbox(config, host="127.0.0.1", port=0)
    settings = make_settings(
        cluster.url,
        EXTEND_BASE_URL=sb.base_url,
        EXTEND_API_KEY="sk_sandbox",
        EXTEND_RUN_RPS=10,
        EXTEND_GET_RPS=100,
        EXTEND_FILES_PER_MINUTE=1_000_000,
        EXTEND_RETRY_BASE_SECONDS=0.05,
        EXTEND_RETRY_MAX_SECONDS=0.5,
        # A chunk cut while `sending` is looked up once its request can no longer be in flight.
        EXTEND_TIMEOUT_SECONDS=5,
        WEBHOOK_ACK_DURABILITY="replica",
        WEBHOOK_ACK_TIMEOUT_MS=1000,
    )
    env = {**settings_env(settings), "PORT": str(port), "LOG_LEVEL": "WARNING"}
    web = RelayProcess(["web", "--host", "127.0.0.1"], env, port, tmp_path / "web.log").start()
    worker = RelayProcess(["worker"], env, output=tmp_path / "worker.log").start()
    auth = {"Authorization": f"Bearer {API_KEY}"}
    try:
        async with aiohttp.ClientSession() as http:
            body = {"workflowId": WF, "files": files(FILES), "chunkSize": CHUNK}
            async with http.post(f"{web_url}/v1/batches", json=body, headers=auth) as resp:
                assert resp.status == 202, await resp.text()
                batch_id = (await resp.json())["batchId"]

            async def fanned_out(least: int) -> bool:
                status, view = await get_json(http, f"{web_url}/v1/batches/{batch_id}", **auth)
                return status == 200 and view["chunks"]["submitted"] >= least

            await until(lambda: fanned_out(KILL_AT_CHUNKS), within=45)
            killed_at = time.time()
            cluster.primary.stop()  # SIGKILL the primary

            async def failed_over() -> bool:
                return cluster.primary_port() == cluster.replica.port

            await until(failed_over, within=45)
            failover_s = time.time() - killed_at
            # Its supervisor restarts it as the new primary's replica, as Sentinel-aware
            # supervisors do (else the Sentinels convert it on their next 10 s INFO round).
            cluster.primary.extra += ["--replicaof", "127.0.0.1", str(cluster.replica.port)]
            cluster.primary.start()

            async def completed() -> bool:
                status, view = await get_json(http, f"{web_url}/v1/batches/{batch_id}", **auth)
                return status == 200 and view["completedAt"] is not None

            await until(completed, within=60)

            async def delivered() -> bool:
                _, data = await get_json(http, f"{sb.base_url}/_sandbox/deliveries")
                return bool(data) and all(d["delivered"] for d in data["deliveries"])

            await until(delivered, within=45)
            _, data = await get_json(http, f"{sb.base_url}/_sandbox/deliveries")
            _, found = await get_json(http, f"{sb.base_url}/_sandbox/runs?workflowId={WF}")
            for proc in (web, worker):  # the same processes throughout: never restarted
                assert proc.proc is not None and proc.proc.poll() is None
    finally:
        worker.stop()
        web.stop()
        await sb.close()
        if "data" not in locals():  # failed before the checks below: nothing else stops it
            cluster.stop()

    events = data["deliveries"]
    after_kill = [a for d in events for a in d["attempts"] if a["at"] >= killed_at]
    refused = [a for a in after_kill if a["status"] != 200]
    accepted = sorted(a["at"] for a in after_kill if a["status"] == 200)
    assert refused, "no delivery met the failover: the test did not test anything"
    recovered_s = accepted[0] - killed_at
    print(
        f"\nR11: failover {failover_s:.1f} s after the kill; first 200 after {recovered_s:.1f} s; "
        f"{len(refused)} attempts refused meanwhile; {len(events)} events delivered"
    )
    per_file = Counter(int(r["metadata"]["relayFileIndex"]) for r in found["runs"])
    assert len(per_file) == FILES and set(per_file.values()) == {1}
    redis = connect(cluster.url)
    try:
        # every acknowledged event is still stored (its dedupe claim) and its run applied
        stored = [await redis.exists(keys.event_seen(d["eventId"])) for d in events]
        assert sum(stored) == len(events)
        statuses = Counter([await redis.hget(keys.run(d["runId"]), "s") for d in events])
        assert set(statuses) == {b"PROCESSED"}, statuses
    finally:
        await redis.aclose()
        cluster.stop()

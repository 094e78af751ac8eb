"""B2 apply: 50,000 queued run events applied by one worker process, against the same number
of no-op arq jobs run by the same worker configuration (both timed as whole processes)."""

from __future__ import annotations

import asyncio
import subprocess
import time
from typing import Any

import orjson

from bench.procs import ROOT, python, redis_server
from ingest.sink import EventSink
from relay_core.redis import queue
from relay_core.redis.client import connect

EVENTS = 50_000


def event_body(i: int) -> bytes:
    payload = {
        "object": "workflow_run",
        "id": f"workflow_run_b2_{i:08d}",
        "status": "PROCESSED",
        "workflow": {"object": "workflow", "id": "workflow_bench", "name": "Invoices"},
        "workflowVersion": {"object": "workflow_version", "id": "wv_1", "version": "3"},
        "metadata": {"customer": "acme"},
        "reviewed": False,
    }
    return orjson.dumps(
        {"eventId": f"evt_b2_{i:08d}", "eventType": "workflow_run.completed", "payload": payload}
    )


async def queue_events(url: str, count: int, concurrency: int = 256) -> int:
    """Queue events the way the receiver does (coalesced groups), `concurrency` at a time."""
    redis = connect(url)
    sink = EventSink(redis, 3600)
    for start in range(0, count, concurrency):
        ids = range(start, min(count, start + concurrency))
        await asyncio.gather(*(sink.submit(f"evt_b2_{i:08d}", event_body(i)) for i in ids))
    jobs = int(await redis.zcard(queue.QUEUE))
    await redis.aclose()
    return jobs


async def queue_noop_jobs(url: str, count: int) -> None:
    pool = await queue.arq_pool(url)
    for start in range(0, count, 1000):
        async with pool.pipeline(transaction=False) as pipe:
            now = queue.now_ms()
            for i in range(start, min(count, start + 1000)):
                job_id = f"noop{i}"
                pipe.psetex(
                    queue.JOB_KEY_PREFIX + job_id,
                    queue.JOB_EXPIRES_MS,
                    queue.job_bytes("noop", [job_id], now),
                )
                pipe.zadd(queue.QUEUE, {job_id: now})
            await pipe.execute()
    await pool.aclose()


def timed(args: list[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(
        args, cwd=ROOT, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return time.perf_counter() - started


def count_runs(url: str) -> int:
    import redis

    client = redis.Redis.from_url(url)
    n = sum(1 for _ in client.scan_iter("relay:run:*", count=10_000))
    client.close()
    return n


def run() -> dict[str, Any]:
    import os

    with redis_server() as url:
        asyncio.run(queue_noop_jobs(url, EVENTS))
        baseline_s = timed(python("-m", "bench.noop_worker", url))
    with redis_server() as url:
        jobs = asyncio.run(queue_events(url, EVENTS))
        env = {**os.environ, "REDIS_URL": url, "LOG_LEVEL": "WARNING"}
        relay_s = timed(python("-m", "relay_cli.main", "worker", "--burst"), env)
        applied = count_runs(url)
    baseline_rate, relay_rate = EVENTS / baseline_s, applied / relay_s
    return {
        "scenario": "B2 apply",
        "events": EVENTS,
        "jobs_queued": jobs,
        "baseline_noop_jobs_per_s": round(baseline_rate, 1),
        "relay_events_per_s": round(relay_rate, 1),
        "runs_applied": applied,
        "ratio": round(relay_rate / baseline_rate, 2),
        "goals": {"ratio>=2": relay_rate / baseline_rate >= 2, "all_applied": applied == EVENTS},
    }


if __name__ == "__main__":
    print(orjson.dumps(run(), option=orjson.OPT_INDENT_2).decode())

"""B4 memory: Redis bytes per tracked run (100,000 runs) and per remembered event id."""

from __future__ import annotations

import asyncio
import os
import subprocess
from typing import Any

import orjson
import redis

from bench.b2_apply import queue_events
from bench.procs import ROOT, python, redis_server

RUNS = 100_000
BATCH_FILES = 100_000


def used_memory(client: redis.Redis) -> int:
    value: int = client.info("memory")["used_memory"]
    return value


def batch_event(batch_id: str, i: int) -> bytes:
    payload = {
        "object": "workflow_run",
        "id": f"workflow_run_b4_{i:08d}",
        "status": "PROCESSED",
        "workflow": {"object": "workflow", "id": "workflow_bench", "name": "Invoices"},
        "workflowVersion": {"object": "workflow_version", "id": "wv_1", "version": "3"},
        "batchId": "batch_platform_1",
        "metadata": {"relayBatchId": batch_id, "relayFileIndex": i, "relayChunk": i // 50},
        "reviewed": False,
    }
    return orjson.dumps(
        {"eventId": f"evt_b4_{i:08d}", "eventType": "workflow_run.completed", "payload": payload}
    )


async def make_batch(url: str) -> str:
    """A real relay batch (through the producer) whose fan-out jobs are then dropped: this
    scenario measures tracking, and nothing may be sent anywhere."""
    from relay_core.batches.producer import Producer
    from relay_core.redis.client import connect
    from relay_core.settings import Settings

    redis = connect(url)
    settings = Settings(REDIS_URL=url, EXTEND_BASE_URL="http://127.0.0.1:9")
    files = [{"url": f"https://files.example.com/{i}.pdf"} for i in range(BATCH_FILES)]
    accepted = await Producer(redis, settings).submit(
        {"workflowId": "workflow_bench", "files": files}
    )
    # Out of the schedule too: its chunks are cut (and sent) by the dispatcher, and nothing
    # may be sent anywhere.
    for pattern in ("arq:*", "relay:sched:*"):
        async for key in redis.scan_iter(pattern, count=10_000):
            await redis.delete(key)
    await redis.aclose()
    return accepted.batchId


async def queue_batch_events(url: str, batch_id: str) -> None:
    from ingest.sink import EventSink
    from relay_core.redis.client import connect

    redis = connect(url)
    sink = EventSink(redis, 3600)
    for start in range(0, BATCH_FILES, 256):
        ids = range(start, min(BATCH_FILES, start + 256))
        await asyncio.gather(
            *(sink.submit(f"evt_b4_{i:08d}", batch_event(batch_id, i)) for i in ids)
        )
    await redis.aclose()


def batch_runs_bytes() -> tuple[float, str]:
    """Bytes per tracked run of a relay batch (run hash + its file→run entry + counters)."""
    with redis_server() as url:
        client = redis.Redis.from_url(url)
        batch_id = asyncio.run(make_batch(url))
        before = used_memory(client)
        asyncio.run(queue_batch_events(url, batch_id))
        env = {
            **os.environ,
            "REDIS_URL": url,
            "LOG_LEVEL": "WARNING",
            "EXTEND_BASE_URL": "http://127.0.0.1:9",
        }
        subprocess.run(
            python("-m", "relay_cli.main", "worker", "--burst"), cwd=ROOT, env=env, check=True
        )
        state = client.hget(f"relay:batch:{batch_id}", "state")
        for key in client.scan_iter("arq:*", count=10_000):
            client.delete(key)
        for pattern in ("relay:evt:*", "relay:evlog:*"):
            for key in client.scan_iter(pattern, count=10_000):
                client.delete(key)
        after = used_memory(client)
        client.close()
    return (after - before) / BATCH_FILES, (state or b"").decode()


def ttl_each_bytes(client: redis.Redis) -> float:
    """What a TTL on each run would add instead (the product's expiry before the hourly expiry
    lists): measured on the runs kept without one, so both figures come from the same run."""
    before = used_memory(client)
    for start in range(0, RUNS, 10_000):
        with client.pipeline(transaction=False) as pipe:
            for i in range(start, min(RUNS, start + 10_000)):
                pipe.pexpire(f"relay:run:workflow_run_b2_{i:08d}", 30 * 86_400_000)
            pipe.execute()
    return (used_memory(client) - before) / RUNS


def tracked_runs(extra_env: dict[str, str]) -> tuple[float, float, int, float, float]:
    """Bytes per tracked run, per remembered event id, MEMORY USAGE of one run key, what a TTL
    on each run would add, and per event in the event log."""
    with redis_server() as url:
        client = redis.Redis.from_url(url)
        before = used_memory(client)
        asyncio.run(queue_events(url, RUNS))
        env = {**os.environ, "REDIS_URL": url, "LOG_LEVEL": "WARNING", **extra_env}
        subprocess.run(
            python("-m", "relay_cli.main", "worker", "--burst"), cwd=ROOT, env=env, check=True
        )
        client.delete("arq:queue")
        for key in client.scan_iter("arq:*", count=10_000):
            client.delete(key)
        with_events = used_memory(client)
        for key in client.scan_iter("relay:evt:*", count=10_000):
            client.delete(key)
        with_log = used_memory(client)
        for key in client.scan_iter("relay:evlog:*", count=10_000):
            client.delete(key)  # the event log (EVENT_LOG_DAYS), counted per event below
        runs_only = used_memory(client)
        sample = client.memory_usage(b"relay:run:workflow_run_b2_00000001") or 0
        ttl_each = ttl_each_bytes(client)
        client.close()
    per_event = (with_events - with_log) / RUNS
    return (runs_only - before) / RUNS, per_event, sample, ttl_each, (with_log - runs_only) / RUNS


def run() -> dict[str, Any]:
    per_run, per_event, sample, ttl_each, logged = tracked_runs({"RETENTION_DAYS": "0"})
    # Retention on (RETENTION_DAYS=30, the default): each finished run in its hour's expiry list.
    per_run_retained, _, retained_sample, _, _ = tracked_runs({"RETENTION_DAYS": "30"})
    per_batch_run, batch_state = batch_runs_bytes()
    return {
        "scenario": "B4 memory",
        "runs": RUNS,
        "bytes_per_run": round(per_run, 1),
        "bytes_per_run_with_retention": round(per_run_retained, 1),
        "bytes_per_run_ttl_each_instead": round(per_run + ttl_each, 1),
        "bytes_per_event_id": round(per_event, 1),
        "bytes_per_logged_event": round(logged, 1),
        "memory_usage_of_one_run_key": sample,
        "memory_usage_of_one_run_key_retained": retained_sample,
        "bytes_per_batch_run": round(per_batch_run, 1),
        "batch_state_after_apply": batch_state,
        "goals": {
            "bytes_per_run<=300": per_run <= 300,
            "bytes_per_run_with_retention<=300": per_run_retained <= 300,
            "bytes_per_batch_run<=300": per_batch_run <= 300,
        },
    }


if __name__ == "__main__":
    print(orjson.dumps(run(), option=orjson.OPT_INDENT_2).decode())

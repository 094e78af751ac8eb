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


def used_memory(client: redis.Redis) -> int:
    value: int = client.info("memory")["used_memory"]
    return value


def run() -> dict[str, Any]:
    with redis_server() as url:
        client = redis.Redis.from_url(url)
        before = used_memory(client)
        asyncio.run(queue_events(url, RUNS))
        env = {**os.environ, "REDIS_URL": url, "LOG_LEVEL": "WARNING"}
        subprocess.run(
            python("-m", "relay_cli.main", "worker", "--burst"), cwd=ROOT, env=env, check=True
        )
        client.delete("arq:queue")
        for key in client.scan_iter("arq:*", count=10_000):
            client.delete(key)
        with_events = used_memory(client)
        for key in client.scan_iter("relay:evt:*", count=10_000):
            client.delete(key)
        runs_only = used_memory(client)
        sample = client.memory_usage(b"relay:run:workflow_run_b2_00000001")
        client.close()
    per_run = (runs_only - before) / RUNS
    per_event = (with_events - runs_only) / RUNS
    return {
        "scenario": "B4 memory",
        "runs": RUNS,
        "bytes_per_run": round(per_run, 1),
        "bytes_per_event_id": round(per_event, 1),
        "memory_usage_of_one_run_key": sample,
        "goals": {"bytes_per_run<=300": per_run <= 300},
    }


if __name__ == "__main__":
    print(orjson.dumps(run(), option=orjson.OPT_INDENT_2).decode())

"""B8 capacity: what one event and one file cost the Redis primary (the capacity model of
docs/guides/scale-durability.md).

A whole stack (private Redis, sandbox, `relay web`, `relay worker`). Redis's own counters are
read around each phase: commands executed (INFO commandstats, commands inside Lua scripts
included) and the server's CPU time (INFO cpu). The worker polls Redis while idle, so that
background rate, measured over an idle spell, is taken off each phase.
- events: EVENTS signed webhooks posted to the receiver, until the worker has applied them all;
- files: a batch of FILES files, submitted through /v1/batches until it completes (its fan-out,
  the platform's webhook for each run, and their apply).
The figures per unit give where a single primary saturates: one core of Redis CPU time.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from typing import Any

import aiohttp
import orjson
import redis

from bench.stack import SECRET, relay_stack, submit_files, wait_state

EVENTS = 10_000
FILES = 5_000
IDLE_SECONDS = 3.0
WORKFLOW = "workflow_b8"


def counters(client: redis.Redis) -> tuple[int, float]:
    stats = client.info("commandstats")
    calls = sum(int(v["calls"]) for v in stats.values())
    cpu = client.info("cpu")
    return calls, float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])


def signed(i: int) -> tuple[bytes, dict[str, str]]:
    payload = {
        "object": "workflow_run",
        "id": f"workflow_run_b8_{i:08d}",
        "status": "PROCESSED",
        "workflow": {"object": "workflow", "id": "workflow_bench", "name": "Invoices"},
        "workflowVersion": {"object": "workflow_version", "id": "wv_1", "version": "3"},
        "metadata": {"customer": "acme"},
        "files": [],
        "reviewed": False,
    }
    body = orjson.dumps(
        {"eventId": f"evt_b8_{i:08d}", "eventType": "workflow_run.completed", "payload": payload}
    )
    ts = str(int(time.time()))
    sig = hmac.new(SECRET.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    headers = {"x-extend-request-timestamp": ts, "x-extend-request-signature": sig}
    return body, {**headers, "content-type": "application/json"}


async def post_events(web_url: str, count: int, concurrency: int = 32) -> None:
    todo = iter(range(count))

    async def sender(session: aiohttp.ClientSession) -> None:
        for i in todo:
            body, headers = signed(i)
            async with session.post(f"{web_url}/webhooks/extend", data=body, headers=headers) as r:
                assert r.status == 200, await r.text()

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(sender(session) for _ in range(concurrency)))


def wait_applied(client: redis.Redis, within: float = 300) -> None:
    deadline = time.monotonic() + within
    while client.zcard("arq:queue") or any(client.scan_iter("arq:in-progress:ev:*", count=1000)):
        assert time.monotonic() < deadline, "the worker did not apply the events in time"
        time.sleep(0.05)


class Phase:
    """Commands and CPU seconds of Redis across a phase, less the idle background rate."""

    def __init__(self, client: redis.Redis, idle_calls_per_s: float, idle_cpu_per_s: float):
        self.client, self.idle = client, (idle_calls_per_s, idle_cpu_per_s)

    def __enter__(self) -> Phase:
        self.started = time.monotonic()
        self.calls0, self.cpu0 = counters(self.client)
        return self

    def __exit__(self, *exc: object) -> None:
        seconds = time.monotonic() - self.started
        calls, cpu = counters(self.client)
        self.seconds = seconds
        self.calls = calls - self.calls0 - self.idle[0] * seconds
        self.cpu = cpu - self.cpu0 - self.idle[1] * seconds


def run() -> dict[str, Any]:
    sandbox = {
        "processing": {"pending_seconds": 0, "processing_seconds": 0},
        "rate_limits": {"run_rps": 1000, "files_per_minute": 10_000_000},
        "workflows": {"extend": [{"id": WORKFLOW, "name": "B8"}]},
        "webhooks": {"concurrency": 64},
    }
    relay = {"EXTEND_RUN_RPS": "1000", "EXTEND_FILES_PER_MINUTE": "10000000"}
    with relay_stack(sandbox, relay) as stack, stack.api() as api:
        client = redis.Redis.from_url(stack.redis_url)
        time.sleep(1.0)
        c0, u0 = counters(client)
        time.sleep(IDLE_SECONDS)
        c1, u1 = counters(client)
        idle = ((c1 - c0) / IDLE_SECONDS, (u1 - u0) / IDLE_SECONDS)
        with Phase(client, *idle) as events:
            asyncio.run(post_events(stack.web_url, EVENTS))
            wait_applied(client)
        with Phase(client, *idle) as files:
            created = submit_files(api, WORKFLOW, FILES, 50)
            status = wait_state(api, created["batchId"], {"completed", "cancelled"}, within=600)
            wait_applied(client)
        client.close()
    per_event_ops, per_event_us = events.calls / EVENTS, events.cpu / EVENTS * 1e6
    per_file_ops, per_file_us = files.calls / FILES, files.cpu / FILES * 1e6
    return {
        "scenario": "B8 capacity",
        "events": EVENTS,
        "files": FILES,
        "batch_state": status.get("state"),
        "idle_redis_commands_per_s": round(idle[0], 1),
        "redis_commands_per_event": round(per_event_ops, 2),
        "redis_cpu_us_per_event": round(per_event_us, 1),
        "redis_commands_per_file": round(per_file_ops, 2),
        "redis_cpu_us_per_file": round(per_file_us, 1),
        "one_redis_core_saturates_at_events_per_s": round(1e6 / per_event_us),
        "one_redis_core_saturates_at_files_per_s": round(1e6 / per_file_us),
        "summary": (
            f"{per_event_ops:.1f} Redis commands and {per_event_us:.0f} µs of Redis CPU per event;"
            f" {per_file_ops:.1f} commands and {per_file_us:.0f} µs per file"
        ),
        "baseline": "one Redis core",
        "ratio": f"saturates near {1e6 / per_event_us:.0f} events/s or {1e6 / per_file_us:.0f} files/s",
        "goals": {"completed": status.get("state") == "completed"},
    }


if __name__ == "__main__":
    print(orjson.dumps(run(), option=orjson.OPT_INDENT_2).decode())

"""R10's crash drill: `relay web` and `relay worker` fed by the sandbox, Redis SIGKILLed on a
stalled disk, and what each acknowledged event became (applied once, and how late)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from relay_core import keys
from relay_core.redis import queue
from relay_core.redis.client import connect
from relay_core.runs.store import run_view
from sandbox import Sandbox, SandboxConfig, start_sandbox
from tests.support.disk_stall import DiskStall
from tests.support.procs import RelayProcess
from tests.support.redis_server import RedisServer, free_port
from tests.support.wait import until

# An acknowledged event is applied at most this long after Redis accepts writes again (or
# after its own acknowledgement, when that came later): a correctness bound, not a speed goal.
APPLY_BOUND_SECONDS = 10.0
WORKFLOW = "workflow_r10"
SECRET = "wss_r10_secret"
SANDBOX_HEADERS = {"Authorization": "Bearer sk_sandbox", "x-extend-api-version": "2026-02-09"}


@dataclass
class Cycle:
    """One crash: what the deliveries of the cycle's runs became."""

    events: int = 0
    acknowledged: int = 0  # answered 200 before the SIGKILL
    refused: int = 0  # had an attempt not answered 200 (redelivered)
    lost: list[str] = field(default_factory=list)  # answered 200, never applied
    repeated: list[str] = field(default_factory=list)  # applied more than once
    # event -> when it was applied, in seconds after Redis was back (or after its 200, when
    # that came later), for those beyond APPLY_BOUND_SECONDS
    late: dict[str, float] = field(default_factory=dict)
    worst: float = 0.0  # the latest apply, in seconds after Redis was back (or the 200)
    canary_lost: bool = False  # the plain write made just before the SIGKILL is gone
    down_seconds: float = 0.0  # SIGKILL to Redis accepting writes again
    hold_seconds: float = 0.0  # stall begun to an fsync held
    killed_at: float = 0.0  # wall time of the SIGKILL
    back_at: float = 0.0  # wall time Redis first accepted a write again
    after_restart: dict[str, dict[str, Any]] = field(default_factory=dict)  # group -> keys

    def stuck_report(self, worker_log: Path) -> str:
        """The keys each lost or late event's group had right after the restart, and what
        the worker logged about the group."""
        wanted = set(self.lost) | set(self.late)
        groups = {g: s for g, s in self.after_restart.items() if wanted & set(s["events"])}
        lines = worker_log.read_text(errors="replace").splitlines()
        report = [f"{len(wanted)} events lost or late; their groups after the restart:"]
        for group, state in groups.items():
            found = {k: v for k, v in state.items() if k != "events"}
            report.append(f"  {group}: {found}")
            report += [f"    log: {line}" for line in lines if group in line]
        if not groups:
            report.append("  (in no group: the group was gone when Redis came back)")
        return "\n".join(report)


def sandbox_config(port: int) -> SandboxConfig:
    return SandboxConfig.model_validate(
        {
            "webhook_urls": [f"http://127.0.0.1:{port}/webhooks/extend"],
            "webhook_secret": SECRET,
            "processing": {"pending_seconds": 0.0, "processing_seconds": 0.0},
            "webhooks": {
                "max_attempts": 1000,
                "backoff_base_seconds": 0.05,
                "backoff_max_seconds": 0.5,
                "timeout_seconds": 10,
                "concurrency": 16,
            },
            "workflows": {"extend": [{"id": WORKFLOW, "name": "R10"}]},
        }
    )


class Drill:
    """`relay web` (WEBHOOK_ACK_DURABILITY=mode), `relay worker` and the sandbox, kept running
    across every crash of `server`: each cycle posts runs and crashes Redis once."""

    def __init__(self, server: RedisServer, stall: DiskStall, log_dir: Path, mode: str) -> None:
        self.server, self.stall = server, stall
        self.port = free_port()
        self.worker_log = log_dir / "worker.log"
        env = {
            "REDIS_URL": server.url,
            "EXTEND_WEBHOOK_SECRETS": SECRET,
            "RELAY_API_KEYS": "k",
            "WEBHOOK_ACK_DURABILITY": mode,
            "EXTEND_BASE_URL": "http://127.0.0.1:9",  # never a public host
            "LOG_FORMAT": "text",
        }
        web_env = {**env, "PORT": str(self.port), "LOG_LEVEL": "WARNING"}
        self.web = RelayProcess(["web", "--host", "127.0.0.1"], web_env, self.port)
        self.worker = RelayProcess(["worker"], {**env, "LOG_LEVEL": "INFO"}, output=self.worker_log)
        self.redis: Redis = connect(server.url)
        self.seen: set[str] = set()  # event ids of earlier cycles

    async def __aenter__(self) -> Drill:
        self.web.start()
        self.worker.start()
        self.sandbox: Sandbox = await start_sandbox(sandbox_config(self.port), port=0)
        self.session = aiohttp.ClientSession()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.session.close()
        await self.sandbox.close()
        await self.redis.aclose()
        self.web.kill()
        self.worker.kill()

    async def deliveries(self) -> list[dict[str, Any]]:
        async with self.session.get(f"{self.sandbox.base_url}/_sandbox/deliveries") as resp:
            data = await resp.json()
        return [d for d in data["deliveries"] if d["eventId"] not in self.seen]

    async def post_runs(self, first: int, end: int) -> None:
        inputs = [{"file": {"url": f"https://files.invalid/{i}.pdf"}} for i in range(first, end)]
        body = {"workflow": {"id": WORKFLOW}, "inputs": inputs}
        url = f"{self.sandbox.base_url}/workflow_runs/batch"
        async with self.session.post(url, json=body, headers=SANDBOX_HEADERS) as resp:
            assert resp.status == 200, await resp.text()

    async def feed(self, runs: int, per_second: int) -> None:
        """Post `runs` runs at a steady pace: their events are delivered as they finish, so
        deliveries (and the worker's applies) are still flowing whenever the stall takes hold,
        which with everysec is up to a second after it begins."""
        step = max(1, per_second // 10)
        for first in range(0, runs, step):
            await self.post_runs(first, min(runs, first + step))
            await asyncio.sleep(0.1)

    async def cycle(
        self, runs: int, stall_after: int, stalled_for: float, per_second: int = 1000
    ) -> Cycle:
        """Feed `runs` runs; once `stall_after` of their events are answered 200, stall the disk
        (at Valkey's next fsync), keep it stalled `stalled_for` seconds (under 2 s: Valkey then
        writes its buffer anyway), SIGKILL Redis, end the stall, restart Redis on its files."""
        feeder = asyncio.create_task(self.feed(runs, per_second))
        try:
            result = await self._crash_in(feeder, stall_after, stalled_for)
        finally:
            feeder.cancel()  # done by now, unless the cycle failed
        await self._settle(runs, result)
        return result

    async def _crash_in(
        self, feeder: asyncio.Task[None], stall_after: int, stalled_for: float
    ) -> Cycle:
        async def acknowledged() -> bool:
            return sum(d["delivered"] for d in await self.deliveries()) >= stall_after

        await until(acknowledged, within=60, what=f"{stall_after} deliveries acknowledged")
        result = Cycle()
        await self.redis.delete("r10:canary")
        await asyncio.sleep(self.stall.until_next_sync())  # so it takes hold at once
        result.killed_at, down_from = await self._crash(stalled_for, result)
        result.back_at = await self._restart()
        result.down_seconds = time.monotonic() - down_from
        result.after_restart = await groups_now(self.redis)
        result.canary_lost = await self.redis.get("r10:canary") is None
        await feeder
        return result

    async def _crash(self, stalled_for: float, result: Cycle) -> tuple[float, float]:
        self.stall.begin()
        begun = time.monotonic()

        async def held() -> bool:
            return self.stall.taken_hold()

        await until(held, within=5, what="the stall held an fsync")
        result.hold_seconds = time.monotonic() - begun
        await asyncio.sleep(stalled_for)  # the fault's shape: writes pile up in memory only
        await self.redis.set("r10:canary", b"1")  # acknowledged, must be lost with the crash
        await asyncio.to_thread(self.server.stop)  # SIGKILL
        killed_at, down_from = time.time(), time.monotonic()
        self.stall.end()
        await self.redis.connection_pool.disconnect()
        return killed_at, down_from

    async def _restart(self) -> float:
        """Restart on the same data directory; the wall time Redis first accepted a write."""
        await asyncio.to_thread(self.server.start)  # returns once the AOF is loaded
        while True:
            try:
                await self.redis.set("r10:back", b"1")
                return time.time()
            except RedisError:
                await asyncio.sleep(0.01)

    async def _settle(self, runs: int, result: Cycle) -> None:
        """Wait until every event of the cycle is delivered and applied (or long past the
        bound), then judge each one."""
        final: list[dict[str, Any]] = []
        applied: dict[str, list[float]] = {}

        async def settled() -> bool:
            nonlocal final, applied
            final = await self.deliveries()
            if len(final) < runs or not all(d["delivered"] for d in final):
                return False
            # Read before the runs: with nothing left queued (a running job stays queued until
            # it ends), an event not applied by then never will be: a loss.
            drained = int(await self.redis.zcard(queue.QUEUE)) == 0
            applied = await applied_at(self.redis, [d["runId"] for d in final])
            return drained or all(d["eventId"] in applied for d in final)

        with contextlib.suppress(AssertionError):  # judged below: which ones, how late
            await until(settled, within=6 * APPLY_BOUND_SECONDS, what="every event applied")
        for d in final:
            oks = [a["at"] for a in d["attempts"] if a["status"] == 200]
            early = bool(oks) and min(oks) < result.killed_at
            result.events += 1
            result.acknowledged += early
            result.refused += any(a["status"] != 200 for a in d["attempts"])
            times = applied.get(d["eventId"], [])
            if not times:
                result.lost += [d["eventId"]] if oks else []
                continue
            result.repeated += [d["eventId"]] if len(times) > 1 else []
            after = max(times) - max(result.back_at, min(oks) if oks else result.back_at)
            result.worst = max(result.worst, after)
            if after > APPLY_BOUND_SECONDS:
                result.late[d["eventId"]] = after
        self.seen |= {d["eventId"] for d in final}


async def applied_at(redis: Redis, run_ids: list[str]) -> dict[str, list[float]]:
    """Event id -> the wall times (s) it was applied, from each run's history."""
    async with redis.pipeline(transaction=False) as pipe:
        for run_id in run_ids:
            pipe.hgetall(keys.run(run_id))
        hashes = await pipe.execute()
    found: dict[str, list[float]] = {}
    for run_id, raw in zip(run_ids, hashes, strict=True):
        view = run_view(run_id, {k.decode(): v.decode() for k, v in raw.items()})
        for entry in view["history"]:
            at = datetime.fromisoformat(entry["at"].replace("Z", "+00:00")).timestamp()
            found.setdefault(entry["eventId"], []).append(at)
    return found


async def groups_now(redis: Redis) -> dict[str, dict[str, Any]]:
    """Every event group in Redis with its events' dedupe keys and its apply job's arq keys:
    job, in-progress (ms left), queue entry, tries, result."""
    groups: dict[str, dict[str, Any]] = {}
    async for raw in redis.scan_iter(match=keys.EVENT_GROUP + "*", count=1000):
        group_id = raw.decode()[len(keys.EVENT_GROUP) :]
        job_id = queue.apply_events_job_id(group_id)
        async with redis.pipeline(transaction=False) as pipe:
            pipe.lrange(raw, 0, -1)
            pipe.exists(queue.JOB_KEY_PREFIX + job_id)
            pipe.pttl(queue.IN_PROGRESS_KEY_PREFIX + job_id)
            pipe.zscore(queue.QUEUE, job_id)
            pipe.get(queue.RETRY_KEY_PREFIX + job_id)
            pipe.exists(queue.RESULT_KEY_PREFIX + job_id)
            bodies, job, in_progress, score, tries, result = await pipe.execute()
        events = [orjson.loads(b)["eventId"] for b in bodies]
        seen = await redis.exists(*map(keys.event_seen, events)) if events else 0
        groups[group_id] = {
            "events": events,
            "dedupe_keys": f"{seen}/{len(events)}",
            "job_key": bool(job),
            "in_progress_ms_left": in_progress,
            "queued": score is not None,
            "tries": int(tries) if tries else 0,
            "result_key": bool(result),
        }
    return groups


def summary(cycles: list[Cycle]) -> Counter[str]:
    total: Counter[str] = Counter()
    for c in cycles:
        total.update(
            events=c.events,
            acknowledged=c.acknowledged,
            refused=c.refused,
            lost=len(c.lost),
            repeated=len(c.repeated),
            late=len(c.late),
            canaries_lost=c.canary_lost,
        )
    return total

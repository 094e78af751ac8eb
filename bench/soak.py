"""Soak: a simulated million runs over compressed time, with retention on.

Months are compressed into a couple of minutes by shortening the clocks the relay keeps data
by: each finished run expires RETENTION_S seconds after it ends (the production default is 30
days), by buckets of BUCKET_S (an hour in production) that the real sweep (relay_core.runs.expiry,
every SWEEP_S here, every minute in the worker) deletes, and its event's dedupe claim expires
after a tenth of the retention (3 days against 30). Runs arrive at a
steady RATE through the real apply script (relay_core.runs.store: the same Lua as the worker) and
the dedupe claim the receiver writes. Redis's used_memory is sampled every half second: it
rises while the first retention window fills, then plateaus, because expiry removes as much as
arrives. Writes bench/results/soak.json and, with matplotlib (`pip install
'.[bench]'`), the curve docs/soak_memory.png (the performance guide shows it).

    python -m bench.soak [runs] [rate per s] [retention s]
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import redis as sync_redis

from bench.procs import redis_server
from relay_core import keys
from relay_core.redis.client import connect
from relay_core.runs import expiry as runexpiry
from relay_core.runs.events import RunUpdate
from relay_core.runs.store import RunStore

RESULTS = Path(__file__).resolve().parent / "results"
CURVE = Path(__file__).resolve().parent.parent / "docs" / "soak_memory.png"
RUNS = 1_000_000
RATE = 5_000  # runs per second (what one Python feeder sustains on 2 busy cores)
RETENTION_S = 20.0
STEP = 1000  # runs per pipeline
SAMPLE_S = 0.5
BUCKET_S = 1.0
SWEEP_S = 0.5


def update(i: int) -> RunUpdate:
    return RunUpdate(
        run_id=f"workflow_run_soak_{i:08d}",
        status="PROCESSED",
        workflow_id="workflow_bench",
        workflow_version="3",
        metadata={"customer": "acme"},
    )


async def feed(url: str, runs: int, rate: float, retention_ms: int) -> float:
    redis = connect(url)
    store = RunStore(redis, 20, retention_ms, expiry_bucket_ms=int(BUCKET_S * 1000))
    started = time.monotonic()
    for start in range(0, runs, STEP):
        ids = range(start, min(runs, start + STEP))
        async with redis.pipeline(transaction=False) as pipe:
            for i in ids:
                pipe.set(keys.event_seen(f"evt_soak_{i:08d}"), "1", nx=True, px=retention_ms // 10)
            await pipe.execute()
        await store.apply_many(
            [(update(i), f"evt_soak_{i:08d}") for i in ids], int(time.time() * 1000)
        )
        ahead = (start + STEP) / rate - (time.monotonic() - started)
        if ahead > 0:
            await asyncio.sleep(ahead)
    await redis.aclose()
    return time.monotonic() - started


async def sweep(url: str, done: asyncio.Event, retention_ms: int) -> int:
    """The worker's sweep, on the compressed clock."""
    redis = connect(url)
    deleted = 0
    while not done.is_set():
        now = int(time.time() * 1000)
        deleted += await runexpiry.sweep(redis, now, retention_ms, int(BUCKET_S * 1000))
        await asyncio.sleep(SWEEP_S)
    await redis.aclose()
    return deleted


async def sample(url: str, done: asyncio.Event, points: list[tuple[float, int, int]]) -> None:
    client = sync_redis.Redis.from_url(url)
    started = time.monotonic()
    while not done.is_set():
        info = client.info("memory")
        points.append((time.monotonic() - started, int(info["used_memory"]), int(client.dbsize())))
        await asyncio.sleep(SAMPLE_S)
    client.close()


async def soak(url: str, runs: int, rate: float, retention_s: float) -> dict[str, Any]:
    points: list[tuple[float, int, int]] = []
    done = asyncio.Event()
    sampler = asyncio.create_task(sample(url, done, points))
    sweeper = asyncio.create_task(sweep(url, done, int(retention_s * 1000)))
    seconds = await feed(url, runs, rate, int(retention_s * 1000))
    await asyncio.sleep(1.0)
    done.set()
    await sampler
    swept = await sweeper
    base = points[0][1]
    # The plateau: the last retention window of the feed, when expiry keeps pace with arrivals.
    window = [p for p in points if seconds - retention_s * 0.75 <= p[0] <= seconds]
    plateau = sorted(p[1] - base for p in window)[len(window) // 2] if window else 0
    peak = max(p[1] - base for p in points)
    live = runs / seconds * retention_s  # the rate reached, which a busy machine may lower
    return {
        "scenario": "soak",
        "runs": runs,
        "rate_per_s": rate,
        "retention_s": retention_s,
        "expiry_bucket_s": BUCKET_S,
        "runs_swept": swept,
        "feed_seconds": round(seconds, 1),
        "rate_reached_per_s": round(runs / seconds),
        "plateau_bytes": plateau,
        "peak_bytes": peak,
        "runs_live_at_plateau": int(live),
        "plateau_bytes_per_live_run": round(plateau / live, 1),
        "points": [[round(t, 2), m - base, k] for t, m, k in points],
    }


def plot(result: dict[str, Any], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install '.[bench]'): no PNG drawn", file=sys.stderr)
        return False
    t = [p[0] for p in result["points"]]
    mb = [p[1] / 1e6 for p in result["points"]]
    fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
    ax.plot(t, mb, color="#2463eb")
    ax.axhline(result["plateau_bytes"] / 1e6, color="#999", linestyle="--", linewidth=1)
    ax.axvline(result["retention_s"], color="#ccc", linestyle=":", linewidth=1)
    keys_axis = ax.twinx()
    keys_axis.plot(t, [p[2] / 1000 for p in result["points"]], color="#e07b00", linewidth=1)
    keys_axis.set_ylabel("keys (thousands)", color="#e07b00")
    ax.set_xlabel(f"seconds ({result['retention_s']:.0f} s stands for RETENTION_DAYS)")
    ax.set_ylabel("Redis used_memory above empty (MB)")
    ax.set_title(
        f"Soak: {result['runs']:,} runs at {result['rate_per_s']:,.0f}/s, "
        f"plateau {result['plateau_bytes'] / 1e6:.1f} MB"
    )
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def main(argv: list[str]) -> int:
    runs = int(argv[0]) if argv else RUNS
    rate = float(argv[1]) if len(argv) > 1 else RATE
    retention = float(argv[2]) if len(argv) > 2 else RETENTION_S
    with redis_server() as url:
        result = asyncio.run(soak(url, runs, rate, retention))
    RESULTS.mkdir(exist_ok=True)
    plot(result, CURVE)
    (RESULTS / "soak.json").write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    summary = {k: v for k, v in result.items() if k != "points"}
    print(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

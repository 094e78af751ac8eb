"""B7 submission: webhook latency while a 100,000-file batch is submitted to the same `relay web`.

A steady closed-loop webhook load (4 connections) runs throughout; the same load with no
submission is the baseline. Reported: the webhooks' p99 and worst latency during the
submission (goal p99 ≤ 50 ms) and the submission's own time (goal ≤ 3 s)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import statistics
import sys
import tempfile
import time
from typing import Any

import aiohttp
import orjson

from bench.stack import API_KEY, SECRET, relay_stack

FILES = 100_000
CONNECTIONS = 4
BASELINE_SECONDS = 3.0


def signed(i: int) -> tuple[bytes, dict[str, str]]:
    payload = {
        "object": "workflow_run",
        "id": f"workflow_run_b7_{i:08d}",
        "status": "PROCESSED",
        "workflow": {"object": "workflow", "id": "workflow_b7", "name": "B7"},
        "metadata": {},
        "files": [],
    }
    body = orjson.dumps(
        {"eventId": f"evt_b7_{i:08d}", "eventType": "workflow_run.completed", "payload": payload}
    )
    ts = str(int(time.time()))
    sig = hmac.new(SECRET.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    headers = {
        "x-extend-request-timestamp": ts,
        "x-extend-request-signature": sig,
        "content-type": "application/json",
    }
    return body, headers


async def load(url: str, stop: asyncio.Event, counter: list[int]) -> list[tuple[float, float]]:
    """(start time, latency seconds) of every webhook until `stop`."""
    samples: list[tuple[float, float]] = []
    async with aiohttp.ClientSession() as http:

        async def one_connection() -> None:
            while not stop.is_set():
                counter[0] += 1
                body, headers = signed(counter[0])
                started = time.time()
                async with http.post(url, data=body, headers=headers) as resp:
                    await resp.read()
                    assert resp.status == 200, resp.status
                samples.append((started, time.time() - started))

        await asyncio.gather(*(one_connection() for _ in range(CONNECTIONS)))
    return samples


# The submission runs in its own process: building and sending 5 MB in the load generator's
# loop would delay the webhooks it times and blame the relay for it.
SUBMIT = """
import sys, time, httpx
body = open(sys.argv[3], "rb").read()
started = time.time()
resp = httpx.post(sys.argv[1] + "/v1/batches", content=body, timeout=120,
                  headers={"Authorization": "Bearer " + sys.argv[2],
                           "content-type": "application/json"})
print(resp.status_code, started, time.time(), flush=True)
"""


async def scenario(web_url: str) -> dict[str, Any]:
    body = orjson.dumps(
        {
            "workflowId": "workflow_b7",
            "files": [{"url": f"https://files.example.com/b7/{i}.pdf"} for i in range(FILES)],
        }
    )
    counter = [0]
    stop = asyncio.Event()
    with tempfile.NamedTemporaryFile(suffix=".json") as file:
        file.write(body)
        file.flush()
        loader = asyncio.create_task(load(web_url + "/webhooks/extend", stop, counter))
        await asyncio.sleep(BASELINE_SECONDS)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            SUBMIT,
            web_url,
            API_KEY,
            file.name,
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await proc.communicate()
    status, submit_started, submit_ended = out.decode().split()
    assert status == "202", out
    await asyncio.sleep(0.5)
    stop.set()
    samples = await loader
    began, ended = float(submit_started), float(submit_ended)
    base = sorted(lat for at, lat in samples if at < began)
    during = sorted(lat for at, lat in samples if began <= at <= ended)
    return {
        "submit_seconds": ended - began,
        "during": during,
        "base": base,
        "body_bytes": len(body),
    }


def p(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] * 1000 if values else 0.0


def run() -> dict[str, Any]:
    sandbox = {"workflows": {"extend": [{"id": "workflow_b7", "name": "B7"}]}}
    # No worker needed: what is measured is the web process taking the body while it answers
    # webhooks. The worker runs anyway (it is part of the stack) and drains the events.
    with relay_stack(sandbox, {"EXTEND_FILES_PER_MINUTE": "80"}) as stack:
        result = asyncio.run(scenario(stack.web_url))
    during, base = result["during"], result["base"]
    p99, worst = p(during, 0.99), (max(during) * 1000 if during else 0.0)
    submit = result["submit_seconds"]
    return {
        "scenario": "B7 submission",
        "files": FILES,
        "body_mb": round(result["body_bytes"] / 1e6, 1),
        "submit_seconds": round(submit, 2),
        "webhooks_during": len(during),
        "webhook_p50_ms": round(p(during, 0.5), 1),
        "webhook_p99_ms": round(p99, 1),
        "webhook_worst_ms": round(worst, 1),
        "baseline_p99_ms": round(p(base, 0.99), 1),
        "baseline_mean_ms": round(statistics.fmean(base) * 1000, 2) if base else 0.0,
        "summary": (
            f"webhook p99 {p99:.1f} ms, worst {worst:.1f} ms while {FILES:,} files were "
            f"submitted in {submit:.2f} s ({len(during)} webhooks meanwhile)"
        ),
        "baseline": f"same load, no submission: p99 {p(base, 0.99):.1f} ms",
        "ratio": "goal p99 ≤ 50 ms, submit ≤ 3 s",
        "goals": {"p99<=50ms": p99 <= 50, "submit<=3s": submit <= 3.0},
    }


if __name__ == "__main__":
    print(orjson.dumps(run(), option=orjson.OPT_INDENT_2).decode())

"""B1 ingest: signed ~2 KB events, 32 connections; bare aiohttp app vs `relay web`."""

from __future__ import annotations

import hashlib
import hmac
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import redis

from bench.procs import free_port, process, python, redis_server, wrk

SECRET = "wss_bench_secret"
SECONDS = 5
# More pre-signed events than the fastest server can take in SECONDS: each is sent once.
EVENTS = 150_000


def event_body(i: int) -> bytes:
    payload = {
        "object": "workflow_run",
        "id": f"workflow_run_bench{i:08d}",
        "status": "PROCESSED",
        "workflow": {"object": "workflow", "id": "workflow_bench", "name": "Invoices"},
        "workflowVersion": {"object": "workflow_version", "id": "wv_1", "version": "3"},
        "metadata": {"customer": "acme", "note": "x" * 1500},
        "batchId": None,
        "files": [{"object": "file", "id": f"file_{i}", "name": f"invoice-{i}.pdf", "type": "PDF"}],
        "reviewed": False,
    }
    return orjson.dumps(
        {"eventId": f"evt_bench_{i:08d}", "eventType": "workflow_run.completed", "payload": payload}
    )


def write_requests(path: Path, count: int) -> int:
    ts = str(int(time.time()))
    size = 0
    with path.open("wb") as out:
        for i in range(count):
            body = event_body(i)
            size = len(body)
            sig = hmac.new(
                SECRET.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256
            ).hexdigest()
            out.write(ts.encode() + b"\t" + sig.encode() + b"\t" + body + b"\n")
    return size


def summarize(raw: dict[str, float]) -> dict[str, float]:
    seconds = raw["duration_us"] / 1e6
    ok = raw["requests"] - raw["errors_status"]
    return {
        "requests": raw["requests"],
        "non_2xx": raw["errors_status"],
        "rps": round(ok / seconds, 1),
        "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
    }


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "requests.tsv"
        body_size = write_requests(data, EVENTS)
        port = free_port()
        with process(python("-m", "bench.bare_app", str(port)), port=port):
            baseline = summarize(wrk(port, data, SECONDS))
        with redis_server() as url:
            port = free_port()
            env = {
                "REDIS_URL": url,
                "PORT": str(port),
                "EXTEND_WEBHOOK_SECRETS": SECRET,
                "RELAY_API_KEYS": "bench",
                "LOG_LEVEL": "WARNING",
            }
            with process(python("-m", "relay_cli.main", "web", "--host", "127.0.0.1"), env, port):
                relay = summarize(wrk(port, data, SECONDS))
            client = redis.Redis.from_url(url)
            stored = sum(1 for _ in client.scan_iter("relay:evt:*", count=10_000))
            client.close()
    acknowledged = int(relay["requests"] - relay["non_2xx"])
    return {
        "scenario": "B1 ingest",
        "body_bytes": body_size,
        "connections": 32,
        "baseline_bare_aiohttp": baseline,
        "relay_web": relay,
        "ratio_rps": round(relay["rps"] / baseline["rps"], 3),
        "acknowledged": acknowledged,
        "acknowledged_in_redis": stored,
        "all_acknowledged_stored": stored >= acknowledged,
        "goals": {
            "ratio_rps>=0.5": relay["rps"] / baseline["rps"] >= 0.5,
            "p99<=10ms": relay["p99_ms"] <= 10,
        },
    }


if __name__ == "__main__":
    print(orjson.dumps(run(), option=orjson.OPT_INDENT_2).decode())

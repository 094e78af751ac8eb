"""A whole relay stack for a benchmark: private Redis, the sandbox, `relay web`, `relay worker`."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.procs import ROOT, free_port, process, python, redis_server

API_KEY = "bench-key"
SECRET = "wss_bench_stack"


@dataclass
class Stack:
    web_url: str
    sandbox_url: str
    redis_url: str

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.web_url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=60
        )

    def sandbox(self) -> httpx.Client:
        return httpx.Client(base_url=self.sandbox_url, timeout=120)


@contextmanager
def sandbox_process(config: dict[str, Any], webhook_url: str) -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sandbox.json"
        path.write_bytes(orjson.dumps(config))
        args = [
            sys.executable,
            "-m",
            "sandbox",
            "--port",
            "0",
            "--webhook-url",
            webhook_url,
            "--webhook-secret",
            SECRET,
            "--config",
            str(path),
        ]
        proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline().decode()
            assert line.startswith("SANDBOX_READY "), line
            yield str(json.loads(line.removeprefix("SANDBOX_READY "))["base_url"])
        finally:
            proc.terminate()
            proc.wait(timeout=15)


@contextmanager
def relay_stack(sandbox_config: dict[str, Any], relay_env: dict[str, str]) -> Iterator[Stack]:
    with ExitStack() as stack:
        redis_url = stack.enter_context(redis_server())
        port = free_port()
        web_url = f"http://127.0.0.1:{port}"
        sandbox_url = stack.enter_context(
            sandbox_process(sandbox_config, f"{web_url}/webhooks/extend")
        )
        env = {
            "REDIS_URL": redis_url,
            "PORT": str(port),
            "EXTEND_WEBHOOK_SECRETS": SECRET,
            "RELAY_API_KEYS": API_KEY,
            "EXTEND_API_KEY": "sk_sandbox",
            "EXTEND_BASE_URL": sandbox_url,
            "SIGNED_URL_ALLOWED_HOSTS": "127.0.0.1",
            "LOG_LEVEL": "WARNING",
            **relay_env,
        }
        stack.enter_context(
            process(python("-m", "relay_cli.main", "web", "--host", "127.0.0.1"), env, port)
        )
        stack.enter_context(process(python("-m", "relay_cli.main", "worker"), env))
        yield Stack(web_url, sandbox_url, redis_url)


def wait_state(api: httpx.Client, batch_id: str, states: set[str], within: float) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        status: dict[str, Any] = api.get(f"/v1/batches/{batch_id}").json()
        if status.get("state") in states or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def submit_files(
    api: httpx.Client, workflow: str, files: int, chunk_size: int = 50
) -> dict[str, Any]:
    body = {
        "workflowId": workflow,
        "chunkSize": chunk_size,
        "files": [{"url": f"https://files.example.com/b/{i}.pdf"} for i in range(files)],
    }
    resp = api.post("/v1/batches", json=body)
    resp.raise_for_status()
    created: dict[str, Any] = resp.json()
    return created


def run_counts(sandbox: httpx.Client, relay_batch: str) -> tuple[int, int]:
    """(files with at least one run, runs beyond the first for a file) for one relay batch."""
    runs = sandbox.get("/_sandbox/runs", params={"meta.relayBatchId": relay_batch}).json()["runs"]
    per_file: dict[Any, int] = {}
    for run in runs:
        index = run.get("metadata", {}).get("relayFileIndex")
        per_file[index] = per_file.get(index, 0) + 1
    return len(per_file), sum(n - 1 for n in per_file.values())

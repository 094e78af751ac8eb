"""Helpers shared by the fault tests: a real `relay worker` configured like a batch Stack's
in-process workers, and reads of the sandbox and Redis the assertions need."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from redis.asyncio import Redis

from relay_core import keys
from relay_core.settings import Settings, walk
from tests.batches.support import Stack
from tests.support.procs import RelayProcess


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that rebuilds `settings` in another process."""
    env: dict[str, str] = {}
    for name, path, _ in walk(Settings):
        value: Any = settings
        for part in path:
            value = getattr(value, part)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, list):
            value = ",".join(value)
        env[name] = str(value)
    return env


def worker_process(st: Stack, log: Path) -> RelayProcess:
    env = {**settings_env(st.settings), "LOG_LEVEL": "INFO", "LOG_FORMAT": "text"}
    return RelayProcess(["worker"], env, output=log)


async def runs_per_file(st: Stack, batch_id: str) -> Counter[int]:
    """How many runs the platform holds for each file index of the batch (deleted ones too)."""
    found = await st.sandbox("GET", "/_sandbox/runs", **{"meta.relayBatchId": batch_id})
    return Counter(int(r["metadata"]["relayFileIndex"]) for r in found["runs"])


async def batch_hash(redis: Redis, batch_id: str) -> dict[str, str]:
    raw = await redis.hgetall(keys.batch(batch_id))  # type: ignore[misc]
    return {k.decode(): v.decode() for k, v in raw.items()}


def request_summary(requests: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    """(endpoint, status or fault) -> count, for a readable report of what the sandbox did."""
    return Counter((r["endpoint"], str(r["fault"] or r["status"])) for r in requests)

"""What every job finds in arq's ctx, filled once per worker process at start-up."""

from __future__ import annotations

from typing import Any, TypedDict, cast

from arq.connections import ArqRedis

from relay_core.runs.store import RunStore
from relay_core.settings import Settings


class Ctx(TypedDict):
    redis: ArqRedis
    settings: Settings
    runs: RunStore
    job_id: str
    job_try: int


def ctx_of(raw: dict[str, Any]) -> Ctx:
    return cast(Ctx, raw)

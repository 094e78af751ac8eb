"""B2 baseline: the same arq worker options as `relay worker`, running no-op jobs."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from arq.worker import func

from relay_core.settings import Settings
from worker.app import build_worker


async def noop(ctx: dict[str, Any], group_id: str) -> None:
    return None


def main() -> None:
    asyncio.set_event_loop(asyncio.new_event_loop())
    settings = Settings(REDIS_URL=sys.argv[1])
    build_worker(settings, burst=True, functions=[func(noop, name="noop")]).run()  # type: ignore[arg-type]


if __name__ == "__main__":
    main()

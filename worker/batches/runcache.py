"""Runs fetched by looks, shared by every job of one worker process.

After a kill, several chunks are left `sending` and each look must GET the same unmapped runs
(list items carry no metadata). Sharing one fetch per run id, in flight or done, turns N looks
of M runs into M GETs within the GET limit. A cached run may be older than the platform's: the
relay metadata a look matches never changes, and applying an older status is a no-op.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

MAX_RUNS = 20_000

Fetch = Callable[[str], Awaitable[dict[str, Any]]]


class RunCache:
    def __init__(self, max_runs: int = MAX_RUNS) -> None:
        self._max = max_runs
        self._runs: OrderedDict[str, asyncio.Future[dict[str, Any]]] = OrderedDict()

    async def get(self, run_id: str, fetch: Fetch) -> dict[str, Any]:
        future = self._runs.get(run_id)
        if future is None or (future.done() and future.exception() is not None):
            future = asyncio.ensure_future(fetch(run_id))
            self._runs[run_id] = future
            while len(self._runs) > self._max:
                self._runs.popitem(last=False)
        # shield: a caller's timeout must not cancel a fetch other looks are waiting on.
        return await asyncio.shield(future)

    async def close(self) -> None:
        """Cancel the fetches still in flight (a shielded fetch outlives the job that began it)."""
        pending = [f for f in self._runs.values() if not f.done()]
        for future in pending:
            future.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        self._runs.clear()

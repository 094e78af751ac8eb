"""The retention's own job: every minute, delete the finished runs whose hour has expired.

Runs carry no TTL each (relay_core.runs.expiry says why); this sweep is what expires them. It is
idempotent: a second worker running the same pass, or a retry, finds those hours gone.
"""

from __future__ import annotations

import logging
from typing import Any

from relay_core.redis import queue
from relay_core.runs import expiry as runexpiry
from worker.context import context

log = logging.getLogger(__name__)

SWEEP_JOB_TIMEOUT_SECONDS = 120


async def sweep_runs(ctx: dict[str, Any]) -> int:
    wc = context(ctx)
    deleted = await runexpiry.sweep(wc.redis, queue.now_ms(), wc.settings.retention.ms)
    if deleted:
        log.info("retention: deleted %d finished runs past RETENTION_DAYS", deleted)
    return deleted

"""Retries: one jittered exponential backoff, and how often each kind of work is tried.

Every retried piece of work names its policy here, so the budgets can be read side by side:

| work                               | tries                      | waits between tries           |
|------------------------------------|----------------------------|-------------------------------|
| any job failing unexpectedly       | its job's max_tries (1)    | 0.5 s doubling to 30 s        |
| a chunk's send to the platform     | EXTEND_SUBMIT_MAX_ATTEMPTS | EXTEND_RETRY_BASE/MAX_SECONDS |
| a deploy's platform calls          | DEPLOY_MAX_ATTEMPTS        | DEPLOY_RETRY_BASE/MAX_SECONDS |
| a signed-URL event payload's fetch | 8                          | 2 s doubling to 60 s          |
| a result's run read (GET)          | 4                          | 0.25 s doubling to 4 s        |
| a file upload (POST /files/upload) | 6                          | 0.5 s doubling to 10 s        |
| a notification waiting for a slot  | unbounded, not an attempt  | 0.2 s doubling to 5 s         |
| the worker reconnecting to Redis   | unbounded                  | 0.1 s doubling to 5 s         |
| a `relay` command's call (CLI)     | relay_cli.client.TRIES (5) | 0.5 s doubling to 30 s        |

(1) JOB_MAX_TRIES for apply_events and batch_completed; every job's max_tries (arq's bound,
which counts deferrals too) is in worker.app's job table.

Two schedules are not a backoff and live with their work: a notification's attempts follow
NOTIFY_RETRY_SCHEDULE (explicit delays), and a 429 pauses the whole fleet for Retry-After or a
backoff its Lua draws from the strikes (relay_core.scheduler.ratelimit).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from relay_core.settings import Settings


@dataclass(frozen=True, slots=True)
class Backoff:
    base: float
    cap: float
    floor: float = 0.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """The wait after failed try `attempt` (from 1): base doubling per try, at most `cap`,
        drawn between half and all of it so that workers failing together do not retry
        together; never below a Retry-After the platform sent (up to the cap)."""
        ceiling = min(self.cap, self.base * 2.0 ** max(0, attempt - 1))
        wait = ceiling * (0.5 + random.random() / 2)
        if retry_after is not None:
            wait = min(max(wait, retry_after), self.cap)
        return max(self.floor, wait)


@dataclass(frozen=True, slots=True)
class Policy:
    """`attempts` tries of the work before it gives up, waiting `backoff` after each failure."""

    attempts: int
    backoff: Backoff


JOB_ERROR = Backoff(0.5, 30.0)
SIGNED_URL = Policy(8, Backoff(2.0, 60.0))
RUN_READ = Policy(4, Backoff(0.25, 4.0))
UPLOAD = Policy(6, Backoff(0.5, 10.0))
NOTIFY_SLOT = Backoff(0.2, 5.0)
REDIS_OUTAGE = Backoff(0.1, 5.0)
CLI_CALL = Backoff(0.5, 30.0)


def chunk_send(settings: Settings) -> Policy:
    backoff = Backoff(settings.batches.retry_base_seconds, settings.batches.retry_max_seconds, 0.05)
    return Policy(settings.batches.submit_max_attempts, backoff)


def deploy(settings: Settings) -> Policy:
    backoff = Backoff(settings.deploys.retry_base_seconds, settings.deploys.retry_max_seconds)
    return Policy(settings.deploys.max_attempts, backoff)

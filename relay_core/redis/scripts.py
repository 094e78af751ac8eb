"""Every Lua script of the relay, by capability: the one registry callers run scripts through.

Each is `relay_core/<capability>/lua/<name>.lua`, loaded as relay_core.redis.luascript
describes (named KEYS and ARGV, includes, EVALSHA, reloaded after NOSCRIPT):

    await scripts.APPLY_RUN(redis, keys={"run": ..., ...}, args={"status": ..., ...})
    await scripts.APPLY_RUN.queue(pipe, keys=..., args=...)  # in `pipelined` or MULTI/EXEC

Callers pass `keys` and `args` as dict literals, so tests/test_lua_scripts.py can compare
every call site with its script's header.
"""

from __future__ import annotations

from relay_core.redis.luascript import (
    Names,
    Script,
    ScriptArgumentError,
    load_all,
    pipelined,
    script,
)
from relay_core.runs.status import HISTORY_CODES, RANK

__all__ = ["Names", "Script", "ScriptArgumentError", "load_all", "pipelined"]

# Runs: webhook events in, applied to tracked runs, expired by the hour.
ENQUEUE_EVENTS = script("runs/enqueue_events")
APPLY_RUN = script(
    "runs/apply_run",
    RUN_RANK={str(status): rank for status, rank in RANK.items()},
    HISTORY_CODE={status: code for code, status in HISTORY_CODES.items()},
)
REQUEUE_GROUP = script("runs/requeue_group")
EXPIRE_RUNS = script("runs/expire_runs")

# Batches: a chunk's transitions, cancelling, 2025-04-21 run-to-file mapping.
CHUNK_SEND = script("batches/chunk_send")
CHUNK_STATE = script("batches/chunk_state")
CHUNK_SETTLE = script("batches/chunk_settle")
CANCEL_BATCH = script("batches/cancel")
RESOLVE_OR_PARK = script("batches/resolve_or_park")
MAP_RUNS = script("batches/map_runs")

# Scheduler: the schedule and its dispatchers, the fleet-wide rate limits.
SCHED_JOIN = script("scheduler/join")
SCHED_CHANGE = script("scheduler/change")
SCHED_TAKE = script("scheduler/take")
SCHED_KICK = script("scheduler/kick")
SCHED_HANDOFF = script("scheduler/handoff")
RATE_RESERVE = script("scheduler/reserve")
RATE_PAUSE = script("scheduler/pause")

# Notifications out: deliveries and their attempts.
NOTIFY_CREATE = script("notify/create")
NOTIFY_RESULT = script("notify/result")
NOTIFY_REDRIVE = script("notify/redrive")
NOTIFY_TAKE_SLOT = script("notify/take_slot")

# Deploys and their evaluations.
DEPLOY_CLAIM = script("deploys/claim")
DEPLOY_MOVE = script("deploys/move")
EVAL_WAKE_DEPLOY = script("evals/wake_deploy")

# The arq seam: in-progress keys a crash left behind.
RELEASE_IN_PROGRESS = script("redis/release_in_progress")

# Operations: dead letters.
DEAD_LETTER_REDRIVE = script("ops/redrive")

"""Every Redis key workflow-relay writes, in one place (arq's own keys live in arq.constants)."""

from __future__ import annotations

PREFIX = "relay:"

EVENT_SEEN = PREFIX + "evt:"  # + eventId -> "1" for EVENT_DEDUPE_TTL_SECONDS
EVENT_GROUP = PREFIX + "evgrp:"  # + group id -> list of raw webhook bodies awaiting apply
EVENT_TYPES = PREFIX + "stats:event-types"  # hash eventType -> count applied or ignored
RUN = PREFIX + "run:"  # + runId -> hash with the run's tracked state
IDEMPOTENCY = PREFIX + "idem:"  # + api key hash + Idempotency-Key -> first answer
METRICS = PREFIX + "metrics"  # hash: every process's counters, summed (relay_core.metrics)
REVIEWS = PREFIX + "reviews"  # sorted set runId by NEEDS_REVIEW time (may hold stale ids)


def event_seen(event_id: str) -> str:
    return EVENT_SEEN + event_id


def event_group(group_id: str) -> str:
    return EVENT_GROUP + group_id


def run(run_id: str) -> str:
    return RUN + run_id


BATCH = PREFIX + "batch:"  # + batchId -> hash: definition, state and per-status counters
BATCH_RUNS_SUFFIX = ":runs:"  # batch key + this + bucket -> hash fileIndex -> runId (runmap)
BATCH_INDEX = PREFIX + "batches"  # sorted set batchId by creation time (recent first listing)


def batch(batch_id: str) -> str:
    return BATCH + batch_id


def batch_runs(batch_id: str, bucket: int) -> str:
    return BATCH + batch_id + BATCH_RUNS_SUFFIX + str(bucket)


# Batch fan-out (relay_core.batches, worker.fanout): all under the batch's own key.
BATCHES_OPEN = PREFIX + "batches:open"  # set of batchIds not yet complete (reconcile walks it)
OPEN_RUNS = PREFIX + "open-runs"  # sorted set runId by last change, while non-terminal
RATE = PREFIX + "rate:"  # + bucket -> GCRA theoretical arrival time (ms) / files window list
RATE_PAUSE = PREFIX + "rate:pause"  # ms until which every worker holds its platform requests
RATE_STRIKES = PREFIX + "rate:strikes"  # recent 429s, fleet-wide (sets the backoff exponent)
SIGNED_URL_ERRORS = PREFIX + "signed-url-errors"  # hash eventId -> last fetch error


def batch_files(batch_id: str) -> str:
    return BATCH + batch_id + ":files"  # list: file JSON by file index


def batch_chunk(batch_id: str, n: int) -> str:
    return BATCH + batch_id + f":chunk:{n}"  # hash: range, state, sentAt, attempts, error


def batch_errors(batch_id: str) -> str:
    return BATCH + batch_id + ":errors"  # hash fileIndex -> why the file has no run


def batch_run_files(batch_id: str) -> str:
    return BATCH + batch_id + ":runfile"  # hash runId -> fileIndex (2025-04-21 responses)


def batch_parked(batch_id: str) -> str:
    return BATCH + batch_id + ":parked"  # list: event bodies waiting for their run's file


def batch_platform_batches(batch_id: str) -> str:
    return BATCH + batch_id + ":pbatches"  # hash platform batchId -> chunk number


def rate(bucket: str) -> str:
    return RATE + bucket


DEPLOY = PREFIX + "deploy:"  # + deployId -> hash: one deploy's state and audit trail
DEPLOY_LEASE = PREFIX + "deploy-lease:"  # + deployId -> worker token while one is working on it
DEPLOYS = PREFIX + "deploys"  # sorted set deployId by creation time (listing)
DEPLOYS_BY_RULE = PREFIX + "deploys:rule:"  # + rule -> sorted set deployId by creation time
DEPLOYS_BY_SUBJECT = PREFIX + "deploys:subject:"  # + run or batch id -> sorted set of deployIds
DEPLOYS_BY_TARGET = PREFIX + "deploys:target:"  # + provider:workflow -> sorted set of deployIds


def deploy(deploy_id: str) -> str:
    return DEPLOY + deploy_id


def deploy_lease(deploy_id: str) -> str:
    return DEPLOY_LEASE + deploy_id


def deploys_by_rule(rule: str) -> str:
    return DEPLOYS_BY_RULE + rule


def deploys_by_subject(subject: str) -> str:
    return DEPLOYS_BY_SUBJECT + subject


def deploys_by_target(provider: str, workflow: str) -> str:
    return DEPLOYS_BY_TARGET + provider + ":" + workflow


# WEBHOOK_ACK_DURABILITY (relay_core.durability): a tiny write in every durable group, so that
# WAITAOF/WAIT on that connection also covers events the group found already stored.
DURABILITY_MARK = PREFIX + "durability:mark"

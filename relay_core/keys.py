"""Every Redis key workflow-relay writes, in one place (arq's own keys live in arq.constants)."""

from __future__ import annotations

import hashlib

PREFIX = "relay:"

EVENT_SEEN = PREFIX + "evt:"  # + eventId -> "1" for EVENT_DEDUPE_TTL_SECONDS
EVENT_GROUP = PREFIX + "evgrp:"  # + group id -> list of raw webhook bodies awaiting apply
EVENT_TYPES = PREFIX + "stats:event-types"  # hash eventType -> count applied or ignored
RUN = PREFIX + "run:"  # + runId -> hash with the run's tracked state
IDEMPOTENCY = PREFIX + "idem:"  # + api key hash + Idempotency-Key -> first answer
METRICS = PREFIX + "metrics"  # hash: every process's counters, summed (relay_core.ops.metrics)
REVIEWS = PREFIX + "reviews"  # sorted set runId by NEEDS_REVIEW time (may hold stale ids)
# Finished runs expire by the hour (relay_core.runs.expiry), not by a TTL each:
RUN_EXPIRY = PREFIX + "run-expiry:"  # + bucket (epoch hours) -> list of runIds finished in it
RUN_EXPIRY_BUCKETS = PREFIX + "run-expiry-buckets"  # sorted set of those buckets, by bucket


def event_seen(event_id: str) -> str:
    return EVENT_SEEN + event_id


def event_group(group_id: str) -> str:
    return EVENT_GROUP + group_id


def run(run_id: str) -> str:
    return RUN + run_id


def run_expiry(bucket: int) -> str:
    return RUN_EXPIRY + str(bucket)


BATCH = PREFIX + "batch:"  # + batchId -> hash: definition, state and per-status counters
BATCH_RUNS_SUFFIX = ":runs:"  # batch key + this + bucket -> hash fileIndex -> runId (runmap)
BATCH_INDEX = PREFIX + "batches"  # sorted set batchId by creation time (recent first listing)


def batch(batch_id: str) -> str:
    return BATCH + batch_id


def batch_runs(batch_id: str, bucket: int) -> str:
    return BATCH + batch_id + BATCH_RUNS_SUFFIX + str(bucket)


# Batch fan-out (relay_core.batches.store, worker.batches.fanout): all under the batch's own key.
BATCHES_OPEN = PREFIX + "batches:open"  # set of batchIds not yet complete (reconcile walks it)
OPEN_RUNS = PREFIX + "open-runs"  # sorted set runId by last change, while non-terminal
RATE = PREFIX + "rate:"  # + bucket -> GCRA theoretical arrival time (ms) / files window list
RATE_PAUSE = PREFIX + "rate:pause"  # ms until which every worker holds its platform requests
RATE_STRIKES = PREFIX + "rate:strikes"  # recent 429s, fleet-wide (sets the backoff exponent)
SIGNED_URL_ERRORS = PREFIX + "signed-url-errors"  # older releases: one hash (no longer written)


def batch_files(batch_id: str) -> str:
    return BATCH + batch_id + ":files"  # list: file JSON by file index


def batch_chunk(batch_id: str, n: int) -> str:
    return BATCH + batch_id + BATCH_CHUNK_INFIX + str(n)  # hash: range, state, sentAt, attempts


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


# The scheduler (relay_core.scheduler): which batch's chunk takes the next rate-limit slot.
SCHED = PREFIX + "sched:"
SCHED_LEVELS = SCHED + "levels"  # sorted set: priority levels with files left to send
SCHED_LEVEL = SCHED + "level:"  # + priority -> sorted set producer -> virtual time (files)
SCHED_WEIGHTS_SUFFIX = ":w"  # level key + this -> hash producer -> sum of its batches' weights
SCHED_PRODUCER_INFIX = ":u:"  # level key + this + producer -> sorted set batchId -> virtual time
SCHED_LEASE = SCHED + "lease"  # the token of the dispatcher at work (short TTL, renewed)
BATCH_CHUNK_INFIX = ":chunk:"  # batch key + this + n -> one chunk's hash (batch_chunk)
BATCH_KINDS_SUFFIX = ":kinds"  # batch key + this -> sorted set "start:kind" by start index


def sched_level(priority: int) -> str:
    return SCHED_LEVEL + str(priority)


def batch_kinds(batch_id: str) -> str:
    return BATCH + batch_id + BATCH_KINDS_SUFFIX


EVAL = PREFIX + "eval:"  # + evalId (= its deployId) -> hash: an evaluation's plan, state and report
EVALS = PREFIX + "evals"  # sorted set evalId by creation time (recent first listing)


def eval_(eval_id: str) -> str:
    return EVAL + eval_id


def eval_values(eval_id: str, role: str) -> str:
    return EVAL + eval_id + ":values:" + role  # hash fileIndex -> values read from the platform


# Operations: dead letters, the event log, job failure tallies, the memory guard.
DEAD_LETTER = PREFIX + "dlq:"  # + dead letter id ({kind}:{ref}) -> hash: what failed, how to retry
DEAD_LETTERS = PREFIX + "dlqs"  # sorted set dead letter id by last failure (listing, trimmed)
DEAD_LETTERS_BY_KIND = PREFIX + "dlqs:kind:"  # + kind -> sorted set of ids by last failure
JOB_FAILURES = PREFIX + "jobfail:"  # + arq job id -> hash: first/last failure, tries, last error
EVENT_LOG = PREFIX + "evlog:"  # + hour (epoch hours) -> hash group id -> compressed bodies
SIGNED_URL_ERROR = PREFIX + "signed-url-error:"  # + eventId -> last fetch error (expires)
READY_PROBE = PREFIX + "readyz-probe"  # written by /readyz to learn whether Redis takes writes


def dead_letter(dead_letter_id: str) -> str:
    return DEAD_LETTER + dead_letter_id


def dead_letters_by_kind(kind: str) -> str:
    return DEAD_LETTERS_BY_KIND + kind


def job_failures(job_id: str) -> str:
    return JOB_FAILURES + job_id


def event_log(hour: int) -> str:
    return EVENT_LOG + str(hour)


def signed_url_error(event_id: str) -> str:
    return SIGNED_URL_ERROR + event_id


# Key families, for memory reports (/metrics, the retention test, the soak): the longest
# matching prefix names the family. arq's own keys are listed too: they share the Redis.
FAMILIES: tuple[tuple[str, str], ...] = (
    (EVENT_SEEN, "event-seen"),
    (EVENT_GROUP, "event-group"),
    (EVENT_TYPES, "event-types"),
    (RUN, "run"),
    (RUN_EXPIRY, "run-expiry"),
    (RUN_EXPIRY_BUCKETS, "run-expiry-buckets"),
    (IDEMPOTENCY, "idempotency"),
    (METRICS, "metrics"),
    (REVIEWS, "reviews"),
    (BATCH, "batch"),
    (BATCH_INDEX, "batch-index"),
    (BATCHES_OPEN, "batches-open"),
    (OPEN_RUNS, "open-runs"),
    (RATE, "rate"),
    (SIGNED_URL_ERRORS, "signed-url-errors"),
    (SIGNED_URL_ERROR, "signed-url-error"),
    (DEPLOY, "deploy"),
    (DEPLOY_LEASE, "deploy-lease"),
    (DEPLOYS, "deploy-index"),
    (DEAD_LETTER, "dead-letter"),
    (DEAD_LETTERS, "dead-letter-index"),
    (JOB_FAILURES, "job-failures"),
    (EVENT_LOG, "event-log"),
    (READY_PROBE, "readyz-probe"),
    ("arq:job:", "arq-job"),
    ("arq:result:", "arq-result"),
    ("arq:retry:", "arq-retry"),
    ("arq:in-progress:", "arq-in-progress"),
    ("arq:queue", "arq-queue"),
    ("arq:", "arq-other"),
)
_BY_LENGTH = sorted(FAMILIES, key=lambda f: -len(f[0]))


def family_of(key: str) -> str:
    """The family a key belongs to (batch sub-keys count as "batch"); "other" if none."""
    for prefix, name in _BY_LENGTH:
        if key.startswith(prefix):
            return name
    return "other"


# WEBHOOK_ACK_DURABILITY (relay_core.redis.durability): a tiny write in every durable group, so that
# WAITAOF/WAIT on that connection also covers events the group found already stored.
DURABILITY_MARK = PREFIX + "durability:mark"


# Notifications out (relay_core.notify): subscriptions, deliveries, attempts, in-flight slots.
NOTIFY = PREFIX + "notify:"
NOTIFY_SUB = NOTIFY + "sub:"  # + subscription id -> hash: url, secret, events, enabled, ...
NOTIFY_SUBS = NOTIFY + "subs"  # sorted set subscription id by creation time (listing)
NOTIFY_ROUTES = NOTIFY + "routes"  # hash enabled subscription id -> its events (comma list)
NOTIFY_MSG = NOTIFY + "msg:"  # + message id -> "1" once its deliveries exist (emit dedupe)
NOTIFY_DELIVERY = NOTIFY + "dlv:"  # + delivery id -> hash: message, destination, state, body
NOTIFY_ATTEMPTS = NOTIFY + "attempts:"  # + destination -> list of attempt JSON, newest first
# Earlier releases' notification-only dead list (delivery id by the time it was given up): read
# once by relay_core.notify.dead.migrate_legacy into the one dead-letter store, then deleted.
NOTIFY_DEAD = NOTIFY + "dead"
NOTIFY_FLIGHT = NOTIFY + "flight:"  # + destination -> sorted set token by lease expiry (ms)


def notify_sub(sub_id: str) -> str:
    return NOTIFY_SUB + sub_id


def notify_msg(msg_id: str) -> str:
    return NOTIFY_MSG + msg_id


def notify_delivery(delivery_id: str) -> str:
    return NOTIFY_DELIVERY + delivery_id


def notify_attempts(dest: str) -> str:
    return NOTIFY_ATTEMPTS + dest


def notify_flight(dest: str) -> str:
    return NOTIFY_FLIGHT + dest


UPLOAD = PREFIX + "upload:"  # + sha256 of a content [+ ":" + its name's] -> the Extend file id


def upload(sha256: str) -> str:
    """By content alone: what the deprecated sha256-only lookup answers."""
    return UPLOAD + sha256


def upload_named(sha256: str, name: str) -> str:
    """By content and exact name (its UTF-8 bytes, hashed): a file reaches the platform under
    its own name, so the same bytes under another name are another upload."""
    return f"{UPLOAD}{sha256}:{hashlib.sha256(name.encode()).hexdigest()[:32]}"

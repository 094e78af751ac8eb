"""The thin seam over arq: serializer, job names, job ids and the job encoding.

arq is at-least-once and in maintenance mode upstream, so everything arq-specific the product
relies on lives here. Jobs are JSON (orjson), never pickle. Where a job must be created inside
a Lua script together with other writes (so the two can never be separated by a crash), this
module builds the exact bytes arq's worker deserializes.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import orjson
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.constants import (
    default_queue_name,
    health_check_key_suffix,
    in_progress_key_prefix,
    job_key_prefix,
    result_key_prefix,
    retry_key_prefix,
)
from redis.asyncio.sentinel import Sentinel

from relay_core.redis import sentinel, tls

QUEUE = default_queue_name
JOB_KEY_PREFIX = job_key_prefix
RETRY_KEY_PREFIX = retry_key_prefix  # + job id -> tries so far (arq counts on from it)
RESULT_KEY_PREFIX = result_key_prefix  # + job id -> a finished job's result (keep_result)
HEALTH_CHECK_SUFFIX = health_check_key_suffix
IN_PROGRESS_KEY_PREFIX = in_progress_key_prefix  # + job id -> "a worker runs it" (a TTL)
JOB_EXPIRES_MS = 24 * 3600 * 1000

APPLY_EVENTS = "apply_events"
BATCH_COMPLETED = "batch_completed"
RUN_DEPLOY = "run_deploy"
SUBMIT_CHUNK = "submit_chunk"
CANCEL_BATCH = "cancel_batch"
RECONCILE = "reconcile"
DISPATCH = "dispatch"
CHUNK_JOB_PREFIX = "chunk:"
DISPATCH_JOB_PREFIX = "dispatch:"


def serialize(value: Any) -> bytes:
    return orjson.dumps(value)


def deserialize(raw: bytes) -> Any:
    return orjson.loads(raw)


def now_ms() -> int:
    return int(time.time() * 1000)


def job_bytes(function: str, args: list[Any], enqueue_ms: int | None = None) -> bytes:
    """The value arq stores at arq:job:<id> (see arq.jobs.serialize_job)."""
    et = now_ms() if enqueue_ms is None else enqueue_ms
    return serialize({"t": None, "f": function, "a": args, "k": {}, "et": et})


def redis_settings(url: str) -> RedisSettings:
    if sentinel.is_sentinel(url):
        return _sentinel_settings(url)
    # arq drops the query; redis-py honours ?ssl_cert_reqs=none (Heroku Redis's self-signed
    # certificate), ?ssl_ca_certs=... (a private CA) and the rest of relay_core.redis.tls, so both
    # clients must read them the same way.
    settings = dataclasses.replace(RedisSettings.from_dsn(url), **tls.url_options(url))
    settings.conn_timeout = 2
    settings.conn_retries = 2
    return settings


def _sentinel_settings(url: str) -> RedisSettings:
    """arq's own Sentinel support: it asks the Sentinels for the primary on every connection."""
    spec = sentinel.parse(url)
    return RedisSettings(
        host=spec.sentinels,
        database=spec.db,
        username=spec.username,
        password=spec.password,
        ssl=spec.ssl,
        sentinel=True,
        sentinel_master=spec.service,
        conn_timeout=2,
        conn_retries=2,
        **spec.ssl_options,  # as a description only: arq's Sentinel client ignores them
    )


def _arq_serves(url: str) -> bool:
    """Whether arq's own Sentinel client can connect: it hands the Sentinels neither a
    password nor TLS, and the primary only `ssl=True` (no CA, no client certificate)."""
    if not sentinel.is_sentinel(url):
        return True
    spec = sentinel.parse(url)
    return not (spec.sentinel_password or spec.ssl)


async def arq_pool(
    url: str, *, default_queue_name: str = QUEUE, expires_extra_ms: int = 86_400_000
) -> ArqRedis:
    """arq's pool for REDIS_URL. A Sentinel URL with a Sentinel password or TLS is what arq
    cannot serve (see _arq_serves): that pool is built here, the same way, with them."""
    if not _arq_serves(url):
        pool = await _sentinel_pool(url)
    else:
        return await create_pool(
            redis_settings(url),
            job_serializer=serialize,
            job_deserializer=deserialize,
            default_queue_name=default_queue_name,
            expires_extra_ms=expires_extra_ms,
        )
    pool.job_serializer = serialize
    pool.job_deserializer = deserialize
    pool.default_queue_name = default_queue_name
    pool.expires_extra_ms = expires_extra_ms
    return pool


class SentinelArqRedis(ArqRedis):
    """arq's pool on the Sentinels' primary; closing it also closes the Sentinels' clients."""

    sentinel_manager: Sentinel

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        await sentinel.close_sentinels(self.sentinel_manager)


async def _sentinel_pool(url: str) -> ArqRedis:
    spec = sentinel.parse(url)
    links = sentinel.sentinel_options(spec, socket_connect_timeout=2.0, socket_timeout=5.0)
    manager = Sentinel(spec.sentinels, sentinel_kwargs=links)  # type: ignore[no-untyped-call]
    # No read timeout on job connections, as arq's own.
    options = {**sentinel.primary_options(spec), "socket_connect_timeout": 2.0}
    pool = manager.master_for(spec.service, redis_class=SentinelArqRedis, **options)
    assert isinstance(pool, SentinelArqRedis)
    pool.sentinel_manager = manager
    try:
        await pool.ping()  # as arq's create_pool does: fail here, not at the first job
    except BaseException:
        await pool.aclose()
        raise
    return pool


# arq starts the ready job with the lowest score first. A batch queues all its chunk jobs at
# once and the rate limit paces them, so at enqueue-time scores every event of the batch would
# wait behind its last chunk (B5: no run reported for 4 s). Event groups are scored this far
# back instead: applying them is short, and it is what keeps statuses current.
EVENTS_LEAD_MS = 10 * 60 * 1000
EVENTS_JOB_PREFIX = "ev:"


def events_score(now: int) -> int:
    """The queue score of an apply_events (or dispatch) job enqueued at `now` (ms)."""
    return now - EVENTS_LEAD_MS


def enqueued_ms(job_id: bytes | str, score: float) -> float:
    """When a queued job was enqueued (or became due), from its queue score."""
    name = job_id.decode() if isinstance(job_id, bytes) else job_id
    led = name.startswith((EVENTS_JOB_PREFIX, DISPATCH_JOB_PREFIX))
    return score + EVENTS_LEAD_MS if led else score


def apply_events_job_id(group_id: str) -> str:
    return EVENTS_JOB_PREFIX + group_id


def batch_completed_job_id(batch_id: str) -> str:
    return f"batch-completed:{batch_id}"


def deploy_job_id(deploy_id: str) -> str:
    return f"deploy:{deploy_id}"


def chunk_job_id(batch_id: str, chunk: int) -> str:
    return f"{CHUNK_JOB_PREFIX}{batch_id}:{chunk}"


def dispatch_job_id(token: str) -> str:
    return DISPATCH_JOB_PREFIX + token


def cancel_job_id(batch_id: str, round_: str = "0") -> str:
    return f"cancel:{batch_id}:{round_}"


NOTIFY_DELIVER = "notify_deliver"
NOTIFY_REDRIVE = "notify_redrive"
NOTIFY_JOB_PREFIX = "notify:"


def notify_job_id(delivery_id: str, round_: int, attempt: int) -> str:
    """One job per attempt of a delivery's round (a redrive starts a new round)."""
    return f"{NOTIFY_JOB_PREFIX}{delivery_id}:{round_}:{attempt}"

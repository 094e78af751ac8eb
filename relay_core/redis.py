"""Redis clients with explicit timeouts, so a dead Redis turns into a fast 503, not a hang."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError


def connect(url: str, *, socket_timeout: float = 5.0) -> Redis:
    # Retry only connection errors (a pooled connection broken by a Redis restart): those
    # commands were never executed. A timeout may have executed, so it is not retried here.
    client: Redis = Redis.from_url(
        url,
        socket_timeout=socket_timeout,
        socket_connect_timeout=2.0,
        health_check_interval=30,
        decode_responses=False,
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), retries=2),
        retry_on_error=[ConnectionError],
    )
    return client

"""Redis clients with explicit timeouts, so a dead Redis turns into a fast 503, not a hang."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError

from relay_core.redis import sentinel, tls


def connect(url: str, *, socket_timeout: float = 5.0) -> Redis:
    # Retry only connection errors (a pooled connection broken by a Redis restart): those
    # commands were never executed. A timeout may have executed, so it is not retried here.
    options: dict[str, Any] = {
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": 2.0,
        # No PING before commands on idle connections: the retry below already replaces a
        # dead pooled connection, and redis-py 5.3's check recursed without end (RecursionError,
        # not ConnectionError) when a server reset the link while it connected, as a Redis
        # that requires a client certificate does to a client without one.
        "health_check_interval": 0,
        "decode_responses": False,
        "retry": Retry(ExponentialBackoff(cap=0.2, base=0.02), retries=2),
        "retry_on_error": [ConnectionError],
    }
    if sentinel.is_sentinel(url):  # the primary is whichever the Sentinels name now
        return sentinel.primary_client(url, **options)
    tls.url_options(url)  # checked now: redis-py reads them itself, and would fail only later
    client: Redis = Redis.from_url(url, **options)
    return client

"""Redis clients with explicit timeouts, so a dead Redis turns into a fast 503, not a hang."""

from __future__ import annotations

from redis.asyncio import Redis


def connect(url: str, *, socket_timeout: float = 5.0) -> Redis:
    client: Redis = Redis.from_url(
        url,
        socket_timeout=socket_timeout,
        socket_connect_timeout=2.0,
        health_check_interval=30,
        decode_responses=False,
    )
    return client

"""WEBHOOK_ACK_DURABILITY: what an acknowledged webhook event has survived.

- memory: Redis has the event (a crash loses what the AOF had not yet fsynced);
- aof: the group's write is fsynced to Redis's append-only file (WAITAOF 1 0);
- replica: at least one replica has it (WAITAOF 0 1 when replicas fsync, else WAIT 1).

One wait per group (ingest.sink), so group commit keeps the cost to one round trip shared by
every event of the group. The wait runs on the connection that wrote the group: WAITAOF and
WAIT only cover the writes of their own connection. A group that only found duplicates writes
nothing, so every durable group also writes DURABILITY_MARK: the wait then covers the earlier
write of every event the group found already there.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Literal

from redis.asyncio import Redis
from redis.exceptions import ConnectionError, ResponseError, TimeoutError

from relay_core import keys
from relay_core.settings import ConfigError

log = logging.getLogger(__name__)
Mode = Literal["memory", "aof", "replica"]
MARK_TTL_MS = 60_000
# How long a starting process retries an unreachable Redis before it gives up on the check.
CHECK_PATIENCE_SECONDS = 20.0


class NotDurable(Exception):
    """The wait timed out: the event is stored but not yet as durable as the mode promises."""


@dataclass(frozen=True)
class AckPolicy:
    mode: Mode
    command: tuple[str | int, ...] = ()  # the wait sent after each group's write; () for memory

    @property
    def durable(self) -> bool:
        return bool(self.command)

    def satisfied(self, reply: Any) -> bool:
        if self.command[0] == "WAIT":
            return int(reply) >= 1
        local, replicas = (int(n) for n in reply)
        return local >= 1 if self.mode == "aof" else replicas >= 1


MEMORY = AckPolicy("memory")


def _fail(mode: Mode, reason: str) -> ConfigError:
    return ConfigError(f"WEBHOOK_ACK_DURABILITY={mode}: {reason}")


def _has_waitaof(info: dict[str, Any]) -> bool:
    # WAITAOF came with Redis 7.2; Valkey reports the Redis version it is compatible with
    # (7.2.4), so one comparison covers both.
    version = str(info.get("redis_version", "0"))
    major, minor = (int(part) for part in [*version.split("."), "0"][:2])
    return (major, minor) >= (7, 2)


def _server_name(info: dict[str, Any]) -> str:
    if "valkey_version" in info:
        return f"Valkey {info['valkey_version']}"
    return f"Redis {info.get('redis_version', '?')}"


async def _probe_replica_fsync(redis: Redis, timeout_ms: int) -> bool:
    """True when a replica confirms an fsynced write (it runs with appendonly yes)."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.set(keys.DURABILITY_MARK, b"1", px=MARK_TTL_MS)
        pipe.execute_command("WAITAOF", 0, 1, timeout_ms)
        _, reply = await pipe.execute()
    return int(reply[1]) >= 1


async def _policy(redis: Redis, mode: Mode, timeout_ms: int) -> AckPolicy:
    info: dict[str, Any] = await redis.info()
    waitaof = _has_waitaof(info)
    if mode == "aof":
        if not waitaof:
            raise _fail(mode, f"{_server_name(info)} has no WAITAOF (Redis 7.2+ or Valkey 8+)")
        if int(info.get("aof_enabled", 0)) != 1:
            raise _fail(mode, "the Redis server runs without appendonly yes")
        return AckPolicy(mode, ("WAITAOF", 1, 0, timeout_ms))
    if info.get("role") != "master":
        raise _fail(mode, "REDIS_URL points at a replica, not the primary")
    if int(info.get("connected_slaves", 0)) < 1:
        raise _fail(mode, "the Redis primary has no connected replica")
    if waitaof and await _probe_replica_fsync(redis, timeout_ms):
        return AckPolicy(mode, ("WAITAOF", 0, 1, timeout_ms))
    # The replicas keep no AOF (or the server predates WAITAOF): "a replica has it" is WAIT.
    return AckPolicy(mode, ("WAIT", 1, timeout_ms))


async def check_server(redis: Redis, mode: Mode, timeout_ms: int) -> AckPolicy:
    """The policy for `mode` on this server, or ConfigError with a one-line reason."""
    if mode == "memory":
        return MEMORY
    deadline = asyncio.get_running_loop().time() + CHECK_PATIENCE_SECONDS
    while True:
        try:
            policy = await _policy(redis, mode, timeout_ms)
        except (ConnectionError, TimeoutError) as exc:
            if asyncio.get_running_loop().time() > deadline:
                raise _fail(mode, f"cannot check the Redis server: {exc}") from None
            await asyncio.sleep(1.0)  # a Redis that is still starting: the check waits for it
            continue
        except ResponseError as exc:
            raise _fail(mode, f"the Redis server refused the check: {exc}") from None
        log.info("webhook acknowledgements wait for %s (%s)", mode, policy.command[0])
        return policy

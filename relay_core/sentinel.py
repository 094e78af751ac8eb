"""REDIS_URL=redis+sentinel://[user:password@]host1:26379,host2:26379/mymaster/0

The Sentinels are asked for the current primary of the service on every new connection, so
after a failover the web process, the worker (arq's own Sentinel support) and the CLI find the
new primary by themselves. `rediss+sentinel://` speaks TLS to the primary; the password (and
user) are the primary's. Sentinels that need a password of their own take it from the query:
`?sentinel_password=...`. The database defaults to 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from redis.asyncio import Redis
from redis.asyncio.sentinel import Sentinel

from relay_core.settings import ConfigError

SCHEMES = {"redis+sentinel": False, "rediss+sentinel": True}  # scheme -> TLS


@dataclass(frozen=True)
class SentinelUrl:
    sentinels: list[tuple[str, int]]
    service: str
    db: int
    username: str | None
    password: str | None
    ssl: bool
    sentinel_password: str | None


def is_sentinel(url: str) -> bool:
    return url.split("://", 1)[0].lower() in SCHEMES


def parse(url: str) -> SentinelUrl:
    parts = urlsplit(url)
    netloc = parts.netloc
    credentials, _, hosts = netloc.rpartition("@")
    username, _, password = credentials.partition(":") if credentials else ("", "", "")
    sentinels = [_host_port(h) for h in hosts.split(",") if h]
    path = [p for p in parts.path.split("/") if p]
    if not sentinels or not path or len(path) > 2:
        raise ConfigError(
            "REDIS_URL: a Sentinel URL is redis+sentinel://host:26379[,host:26379]/service[/db]"
        )
    db = path[1] if len(path) == 2 else "0"
    if not db.isdigit():
        raise ConfigError(f"REDIS_URL: the database of a Sentinel URL is a number, not {db!r}")
    query = parse_qs(parts.query)
    return SentinelUrl(
        sentinels=sentinels,
        service=unquote(path[0]),
        db=int(db),
        username=unquote(username) or None,
        password=unquote(password) or None,
        ssl=SCHEMES[parts.scheme.lower()],
        sentinel_password=query.get("sentinel_password", [None])[0],
    )


def _host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":") if ":" in text else (text, "", "26379")
    if not port.isdigit():
        raise ConfigError(f"REDIS_URL: {text!r} is not host:port")
    return host.strip("[]"), int(port)


class SentinelRedis(Redis):
    """The primary's client; closing it also closes the clients of the Sentinels."""

    sentinel_manager: Sentinel

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        for client in self.sentinel_manager.sentinels:
            await client.aclose()


def primary_client(url: str, **connection: Any) -> Redis:
    """A client of the service's current primary, with `connection` options for its links."""
    spec = parse(url)
    sentinel_options: dict[str, Any] = {"socket_timeout": 1.0, "socket_connect_timeout": 1.0}
    if spec.sentinel_password:
        sentinel_options["password"] = spec.sentinel_password
    sentinel = Sentinel(spec.sentinels, sentinel_kwargs=sentinel_options)  # type: ignore[no-untyped-call]
    client = sentinel.master_for(
        spec.service,
        redis_class=SentinelRedis,
        db=spec.db,
        username=spec.username,
        password=spec.password,
        ssl=spec.ssl,
        **connection,
    )
    assert isinstance(client, SentinelRedis)
    client.sentinel_manager = sentinel
    return client

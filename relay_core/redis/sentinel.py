"""REDIS_URL=redis+sentinel://[user:password@]host1:26379,host2:26379/mymaster/0

The Sentinels are asked for the current primary of the service on every new connection, so
after a failover the web process, the worker and the CLI find the new primary by themselves.
The password (and user) are the primary's; Sentinels that need a password of their own take it
from the query: `?sentinel_password=...`. The database defaults to 0.

`rediss+sentinel://` speaks TLS to the primary and to the Sentinels (`?sentinel_ssl=false` for
Sentinels that listen on a plain port). A private CA and a client certificate are given as for
a `rediss://` URL (relay_core.redis.tls): `?ssl_ca_certs=/path/ca.pem`, `ssl_certfile`,
`ssl_keyfile`, `ssl_cert_reqs`, `ssl_check_hostname`; the same options serve the Sentinels'
connections. Tested live (tests/test_sentinel.py) with TLS-only nodes and Sentinels of Redis
7.0, against both the Sentinels' TLS ports and their plain ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from redis.asyncio import Redis
from redis.asyncio.sentinel import Sentinel

from relay_core.redis import tls
from relay_core.settings import ConfigError

SCHEMES = {"redis+sentinel": False, "rediss+sentinel": True}  # scheme -> TLS
# A misspelt parameter would otherwise be ignored (a CA never loaded): unknown ones are refused.
PARAMS = ("sentinel_password", "sentinel_ssl", *tls.PARAMS)


@dataclass(frozen=True)
class SentinelUrl:
    sentinels: list[tuple[str, int]]
    service: str
    db: int
    username: str | None
    password: str | None
    ssl: bool
    sentinel_password: str | None
    sentinel_ssl: bool = False  # the Sentinels speak TLS too
    ssl_options: dict[str, Any] = field(default_factory=dict)  # relay_core.redis.tls, both links


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
    query = _query(url)
    secure = SCHEMES[parts.scheme.lower()]
    return SentinelUrl(
        sentinels=sentinels,
        service=unquote(path[0]),
        db=int(db),
        username=unquote(username) or None,
        password=unquote(password) or None,
        ssl=secure,
        sentinel_password=query.get("sentinel_password", [""])[0] or None,
        sentinel_ssl=_sentinel_ssl(query, secure),
        ssl_options=tls.options(query, tls=secure),
    )


def _query(url: str) -> dict[str, list[str]]:
    query = tls.query(url)
    unknown = sorted(set(query) - set(PARAMS))
    if unknown:
        raise ConfigError(
            f"REDIS_URL: unknown parameter {unknown[0]!r} (a Sentinel URL takes {', '.join(PARAMS)})"
        )
    return query


def _sentinel_ssl(query: dict[str, list[str]], secure: bool) -> bool:
    if "sentinel_ssl" not in query:
        return secure
    if not secure:
        raise ConfigError("REDIS_URL: sentinel_ssl needs rediss+sentinel:// (TLS)")
    return tls.flag("sentinel_ssl", query["sentinel_ssl"][0])


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
        await close_sentinels(self.sentinel_manager)


async def close_sentinels(manager: Sentinel) -> None:
    # master_for's client does not own the Sentinels' clients: left open, they leak a socket.
    for client in manager.sentinels:
        await client.aclose()


def primary_options(spec: SentinelUrl) -> dict[str, Any]:
    """Keywords of the primary's connections (Sentinel.master_for)."""
    options: dict[str, Any] = {"db": spec.db, "username": spec.username}
    options.update(password=spec.password, ssl=spec.ssl, **spec.ssl_options)
    return options


def sentinel_options(spec: SentinelUrl, **links: Any) -> dict[str, Any]:
    """sentinel_kwargs: `links` (timeouts), the Sentinels' password, and TLS if they speak it."""
    options = dict(links)
    if spec.sentinel_password:
        options["password"] = spec.sentinel_password
    if spec.sentinel_ssl:
        options.update(ssl=True, **spec.ssl_options)
    return options


def primary_client(url: str, **connection: Any) -> Redis:
    """A client of the service's current primary, with `connection` options for its links."""
    spec = parse(url)
    links = sentinel_options(spec, socket_timeout=1.0, socket_connect_timeout=1.0)
    sentinel = Sentinel(spec.sentinels, sentinel_kwargs=links)  # type: ignore[no-untyped-call]
    client = sentinel.master_for(
        spec.service, redis_class=SentinelRedis, **primary_options(spec), **connection
    )
    assert isinstance(client, SentinelRedis)
    client.sentinel_manager = sentinel
    return client

"""The SSRF guard of callback URLs: where the relay may post notifications.

https only, plain http only to a host in CALLBACK_ALLOWED_HOSTS. An address in a loopback,
private, link-local (the cloud metadata 169.254.169.254), multicast, reserved or otherwise
non-global range is refused unless its host is allowed: at registration (a literal address,
`localhost`, and what a name resolves to then), and at delivery for every address the name
resolves to (the connection goes to the checked address, so a name re-pointed between
registration and delivery, or between check and connect, cannot slip through).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from relay_core.errors import InvalidRequest

MAX_URL_LENGTH = 2000
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class BlockedAddress(OSError):
    """A callback host resolved to an address the guard refuses."""


def blocked_range(ip: Address) -> str | None:
    """Why an address is refused (its range), or None for a public unicast address."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_unspecified or ip.is_reserved:
        return "reserved"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "reserved"  # shared (100.64/10) and the other special-purpose blocks
    return None


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def check_url(url: str, allowed_hosts: Iterable[str], field: str = "url") -> str:
    """Validate a callback URL at registration; InvalidRequest (400) says what is wrong."""
    allowed = {h.lower() for h in allowed_hosts}
    if len(url) > MAX_URL_LENGTH:
        raise InvalidRequest(f"{field}: at most {MAX_URL_LENGTH} characters")
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        raise InvalidRequest(f"{field}: must be an https URL")
    if parts.username or parts.password:
        raise InvalidRequest(f"{field}: must not carry credentials")
    if host in allowed:
        return url
    if parts.scheme != "https":
        raise InvalidRequest(f"{field}: must be https (plain http only to CALLBACK_ALLOWED_HOSTS)")
    ip = _literal(host)
    reason = blocked_range(ip) if ip is not None else None
    if reason is None and (host == "localhost" or host.endswith(".localhost")):
        reason = "loopback"
    if reason is not None:
        raise InvalidRequest(f"{field}: {host} is a {reason} address, which is not allowed")
    return url


REGISTRATION_DNS_SECONDS = 2.0


async def check_url_resolved(url: str, allowed_hosts: Iterable[str], field: str = "url") -> str:
    """check_url, then the name's addresses now: a name pointing inward is refused at once.
    A name that does not resolve (yet) is accepted: delivery resolves and checks it again."""
    check_url(url, allowed_hosts, field)
    host = (urlsplit(url).hostname or "").lower()
    if host in {h.lower() for h in allowed_hosts} or _literal(host) is not None:
        return url
    loop = asyncio.get_running_loop()
    found: list[Any] = []
    with contextlib.suppress(OSError, TimeoutError):
        found = await asyncio.wait_for(
            loop.getaddrinfo(host, 443, type=socket.SOCK_STREAM), REGISTRATION_DNS_SECONDS
        )
    for *_, sockaddr in found:
        reason = blocked_range(ipaddress.ip_address(str(sockaddr[0]).split("%")[0]))
        if reason is not None:
            raise InvalidRequest(f"{field}: {host} resolves to a {reason} address ({sockaddr[0]})")
    return url


def check_target(url: str, allowed_hosts: Iterable[str]) -> None:
    """At delivery: the scheme rule and a literal address (aiohttp resolves no literal, so
    GuardedResolver never sees one); raise BlockedAddress when refused."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host in {h.lower() for h in allowed_hosts}:
        return
    if parts.scheme != "https":
        raise BlockedAddress(f"plain http to {host}, which is not in CALLBACK_ALLOWED_HOSTS")
    ip = _literal(host)
    reason = blocked_range(ip) if ip is not None else None
    if reason is not None:
        raise BlockedAddress(f"{host} is a {reason} address")


class GuardedResolver(AbstractResolver):
    """aiohttp resolver that refuses blocked addresses unless the host is allowed."""

    def __init__(self, allowed_hosts: Iterable[str]) -> None:
        self.allowed = {h.lower() for h in allowed_hosts}
        self.inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self.inner.resolve(host, port, family)
        if host.lower() in self.allowed:
            return found
        for entry in found:
            reason = blocked_range(ipaddress.ip_address(entry["host"]))
            if reason is not None:
                raise BlockedAddress(f"{host} resolves to a {reason} address ({entry['host']})")
        return found

    async def close(self) -> None:
        await self.inner.close()


def connector_options(allowed_hosts: Iterable[str]) -> dict[str, Any]:
    """TCPConnector arguments of the delivery session (the guard sees every connection)."""
    return {"resolver": GuardedResolver(allowed_hosts), "use_dns_cache": False}

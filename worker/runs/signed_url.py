"""Fetch a signed-URL event payload (`{"object": "signed_data_url", "data": URL}`).

https only, unless the URL's host is on SIGNED_URL_ALLOWED_HOSTS (the sandbox serves http on
loopback); bounded in size and time; no redirects (a signed URL that redirects is not one we
were given). Every failure is a FetchError saying whether trying again may help.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson

from relay_core.settings import Settings

_READ_SIZE = 64 * 1024


class FetchError(Exception):
    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


def check_url(url: str, allowed_hosts: list[str]) -> None:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host:
        raise FetchError("signed URL has no host", retryable=False)
    allowed = host in allowed_hosts or (parts.netloc in allowed_hosts)
    if parts.scheme != "https" and not (parts.scheme == "http" and allowed):
        raise FetchError(
            f"signed URL must be https (host {host!r} is not allowed)", retryable=False
        )


async def fetch_payload(
    session: aiohttp.ClientSession, url: str, settings: Settings
) -> dict[str, Any]:
    check_url(url, settings.webhooks.signed_url_allowed_hosts)
    timeout = aiohttp.ClientTimeout(total=settings.webhooks.signed_url_timeout_seconds)
    try:
        async with session.get(url, timeout=timeout, allow_redirects=False) as resp:
            if resp.status != 200:
                retryable = resp.status in (408, 429) or resp.status >= 500
                raise FetchError(f"signed URL answered HTTP {resp.status}", retryable=retryable)
            raw = await _read_bounded(resp, settings.webhooks.signed_url_max_bytes)
    except aiohttp.ClientConnectorDNSError as exc:
        # The URL names a host that does not exist: retrying the same URL cannot help.
        raise FetchError(f"signed URL host does not resolve: {exc.host}", retryable=False) from exc
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise FetchError(
            f"signed URL fetch failed: {exc.__class__.__name__}", retryable=True
        ) from exc
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise FetchError("signed URL content is not JSON", retryable=False) from None
    if not isinstance(payload, dict):
        raise FetchError("signed URL content is not a JSON object", retryable=False)
    return payload


async def _read_bounded(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    if resp.content_length is not None and resp.content_length > limit:
        raise FetchError(f"signed URL content is larger than {limit} bytes", retryable=False)
    out = bytearray()
    async for block in resp.content.iter_chunked(_READ_SIZE):
        out += block
        if len(out) > limit:
            raise FetchError(f"signed URL content is larger than {limit} bytes", retryable=False)
    return bytes(out)

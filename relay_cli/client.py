"""The CLI's one /v1 client: a call to a running relay (RELAY_URL, RELAY_API_KEY) and the one
line that reports a failed one."""

from __future__ import annotations

import sys
from typing import Any

import aiohttp
import orjson

from relay_core.settings import Settings


async def call(
    settings: Settings, method: str, path: str, params: dict[str, str], body: Any
) -> tuple[int, Any]:
    key = settings.relay_api_key.get_secret_value() if settings.relay_api_key else ""
    headers = {"Authorization": f"Bearer {key}"}
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        url = settings.relay_url.rstrip("/") + path
        data = None if body is None else orjson.dumps(body)
        if data is not None:
            headers["content-type"] = "application/json"
        async with session.request(method, url, params=params, data=data, headers=headers) as r:
            raw = await r.read()
            return r.status, orjson.loads(raw) if raw else None


def failed(status: int, answer: Any) -> int:
    """Print the API's error on stderr; the command's exit code (1)."""
    error = answer.get("error", {}) if isinstance(answer, dict) else {}
    print(f"relay: HTTP {status} {error.get('code')}: {error.get('message')}", file=sys.stderr)
    return 1

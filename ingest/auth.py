"""Bearer-key auth for the /v1 API (constant-time comparison against every configured key)."""

from __future__ import annotations

import hmac

from aiohttp import web

from ingest.appkeys import SETTINGS
from relay_core.errors import Unauthorized


def require_api_key(request: web.Request) -> str:
    """Return the caller's key, or raise 401 without saying which part was wrong."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("missing bearer token: send Authorization: Bearer <key>")
    presented = token.encode()
    matched = False
    for key in request.app[SETTINGS].relay_api_keys:
        matched |= hmac.compare_digest(presented, key.encode())
    if not matched:
        raise Unauthorized("invalid API key")
    return token

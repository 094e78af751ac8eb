"""Bearer-key auth for the /v1 API: who is calling (ingest.apikeys) and with which scope.

Reads need `read`; batches, cancels and priority changes `submit`; deploys and rule runs
`deploy`; anything that replays or deletes `admin`.
"""

from __future__ import annotations

from aiohttp import web

from ingest.apikeys import ApiKey, Scope, match
from ingest.appkeys import API_KEYS
from relay_core.errors import Forbidden, Unauthorized


def require_api_key(request: web.Request, scope: Scope) -> ApiKey:
    """The caller's key, or 401 without saying which part was wrong, or 403 for the scope."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("missing bearer token: send Authorization: Bearer <key>")
    key = match(request.app[API_KEYS], token)
    if key is None:
        raise Unauthorized("invalid API key")
    if not key.allows(scope):
        raise Forbidden(
            f"this key lacks the {scope!r} scope this call needs", code="insufficient_scope"
        )
    return key

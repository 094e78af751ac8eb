"""Extend's webhook signature: hex HMAC-SHA256 over ``v0:{timestamp}:{raw body}``."""

from __future__ import annotations

import hashlib
import hmac


def sign(secret: str, timestamp: str, body: bytes) -> str:
    # The key is the whole secret string, "wss_" prefix included, as UTF-8: no base64 decoding.
    message = b"v0:" + timestamp.encode() + b":" + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    ts = str(timestamp)
    return {
        "content-type": "application/json",
        "x-extend-request-timestamp": ts,
        "x-extend-request-signature": sign(secret, ts, body),
    }

"""Standard Webhooks signing: `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.

The secret is `whsec_` + base64 of 24 random bytes; the HMAC key is the decoded bytes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's prefix, not a secret)
TOLERANCE_SECONDS = 300


class SignatureError(Exception):
    """A notification whose signature headers do not verify."""


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX) + "==")


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    mac = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def headers(secret: str, msg_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The three headers of one attempt; the timestamp is the attempt's, the id the message's."""
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": signature(secret, msg_id, ts, body),
    }


def verify(secret: str, received: dict[str, str], body: bytes, now: float | None = None) -> None:
    """Raise SignatureError unless one v1 signature matches and the timestamp is recent."""
    lower = {k.lower(): v for k, v in received.items()}
    msg_id, ts, sigs = (
        lower.get(h) for h in ("webhook-id", "webhook-timestamp", "webhook-signature")
    )
    if not (msg_id and ts and sigs):
        raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature")
    if not ts.isdigit():
        raise SignatureError("webhook-timestamp is not a number")
    if abs((time.time() if now is None else now) - int(ts)) > TOLERANCE_SECONDS:
        raise SignatureError("webhook-timestamp is outside the tolerance")
    expected = signature(secret, msg_id, int(ts), body)
    if not any(hmac.compare_digest(expected, s) for s in sigs.split(" ")):
        raise SignatureError("no matching signature")

"""Extend webhook signatures: a pure module (no framework imports), `sign()` beside `verify()`.

Scheme (as the official SDK verifies it): lowercase hex HMAC-SHA256, key = the whole secret
string as UTF-8, message = b"v0:" + timestamp + b":" + raw body. The raw bytes are verified
before anything parses them.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence

from relay_core.params import is_digits

TIMESTAMP_HEADER = "x-extend-request-timestamp"
SIGNATURE_HEADER = "x-extend-request-signature"
MAX_FUTURE_SKEW_SECONDS = 60
_HEX = frozenset(b"0123456789abcdef")


class SignatureError(Exception):
    """Verification failed; the message is safe to return (it never echoes the signature)."""


def sign(secret: str | bytes, timestamp: int | str, body: bytes) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    message = b"v0:" + str(timestamp).encode() + b":" + body
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    return {TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: sign(secret, ts, body)}


def verify(
    headers: Mapping[str, str],
    body: bytes,
    secrets: Sequence[bytes],
    *,
    max_age_seconds: int,
    now: float | None = None,
) -> None:
    """Raise SignatureError unless one of `secrets` signed `body` within the time window."""
    timestamp = headers.get(TIMESTAMP_HEADER)
    signature = headers.get(SIGNATURE_HEADER)
    if not timestamp:
        raise SignatureError(f"missing {TIMESTAMP_HEADER} header")
    if not signature:
        raise SignatureError(f"missing {SIGNATURE_HEADER} header")
    _check_timestamp(timestamp, max_age_seconds, time.time() if now is None else now)
    received = signature.strip().encode("ascii", "replace")
    if len(received) != 64 or not _HEX.issuperset(received):
        raise SignatureError("signature is not 64 lowercase hex characters")
    message = b"v0:" + timestamp.encode() + b":" + body
    for key in secrets:
        expected = hmac.new(key, message, hashlib.sha256).hexdigest().encode()
        if hmac.compare_digest(received, expected):
            return
    raise SignatureError("signature does not match any configured secret")


def _check_timestamp(raw: str, max_age_seconds: int, now: float) -> None:
    if not is_digits(raw, max_len=12):
        raise SignatureError("timestamp is not a Unix time in seconds")
    age = int(now) - int(raw)
    if age > max_age_seconds:
        raise SignatureError(f"timestamp is older than {max_age_seconds} s")
    if age < -MAX_FUTURE_SKEW_SECONDS:
        raise SignatureError(f"timestamp is more than {MAX_FUTURE_SKEW_SECONDS} s in the future")

"""Seeded identifiers and RFC 3339 timestamps."""

from __future__ import annotations

import random
import string
import time
import uuid

_ALPHABET = string.ascii_letters + string.digits + "_-"


class IdFactory:
    """Every id comes from the one seeded RNG, so a replayed session yields the same ids."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def make(self, prefix: str, length: int = 21) -> str:
        # 64 symbols, so the low 6 bits of each random byte pick one uniformly (and fast).
        return prefix + "".join([_ALPHABET[b & 63] for b in self._rng.randbytes(length)])

    def uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))


def iso(ts: float | None) -> str | None:
    """RFC 3339 in UTC with milliseconds, as Extend writes them."""
    if ts is None:
        return None
    millis = int(ts * 1000)
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(millis // 1000)) + f".{millis % 1000:03d}Z"
    )


def iso_seconds(ts: float) -> str:
    """RFC 3339 without fractions, as the Eachlabs and xpander examples show."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))

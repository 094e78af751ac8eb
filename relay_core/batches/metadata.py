"""What a run's metadata may hold so that it reaches the platform exactly as the producer gave
it: refused up front (a 400 naming the field) rather than changed or refused mid-batch.

- At most about 10 KB of JSON per run (Extend's documented limit), less room the relay keeps
  for its own keys; those keys (`relayBatchId`, ...) may not be given, as the relay would
  overwrite them.
- Values JSON carries exactly: integers within 64 bits (a longer one would be sent rounded or
  not at all), finite numbers, strings of valid Unicode (no lone surrogate).
"""

from __future__ import annotations

import math
from typing import Any

import orjson

MAX_METADATA_BYTES = 10 * 1024
# The relay's own keys in every run's metadata: its batch, the file's index, the chunk, and
# (2025-04-21) the send number. Room is kept for them.
META_BATCH = "relayBatchId"
META_FILE = "relayFileIndex"
META_CHUNK = "relayChunk"
META_SEND = "relaySend"
RELAY_KEYS = frozenset({META_BATCH, META_FILE, META_CHUNK, META_SEND})
RELAY_METADATA_RESERVE = 120
LIMIT = MAX_METADATA_BYTES - RELAY_METADATA_RESERVE
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1  # what orjson (and so the relay) writes exactly


def metadata_size(value: dict[str, Any]) -> int:
    return len(orjson.dumps(value))


def check_metadata(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """The metadata unchanged, or ValueError naming the key that cannot be sent as given."""
    if value is None:
        return None
    taken = sorted(RELAY_KEYS & value.keys())
    if taken:
        raise ValueError(f"{taken[0]} is the relay's own key: give it another name")
    _check_values(value, "")
    if metadata_size(value) > LIMIT:
        raise ValueError(f"metadata is larger than {LIMIT} bytes of JSON")
    return value


def _check_values(value: Any, where: str) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{where}.{key}".lstrip(".") if isinstance(key, str) else where
            _check_text(key, inner)
            _check_values(item, inner)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_values(item, f"{where}[{i}]")
    elif isinstance(value, str):
        _check_text(value, where)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            raise ValueError(f"{where} is an integer beyond 64 bits: send it as a string")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where} is not a finite number")
    else:
        raise ValueError(f"{where} is a {type(value).__name__}, not a JSON value")


def _check_text(value: object, where: str) -> None:
    if not isinstance(value, str):
        raise ValueError(f"{where} has a key that is not a string")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{where} is not valid Unicode (it has a lone surrogate)") from None

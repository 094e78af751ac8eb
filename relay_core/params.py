"""Numbers that arrive as text (query parameters, metadata, stored fields), read one way.

`str.isdigit()` alone accepts "²" and "١", which `int()` then refuses or reads unexpectedly,
so every such check is ASCII digits only, with a bound on length where the number must fit.
"""

from __future__ import annotations

from relay_core.errors import InvalidRequest


def is_digits(raw: str, max_len: int | None = None) -> bool:
    return raw.isascii() and raw.isdigit() and (max_len is None or len(raw) <= max_len)


def parse_limit(raw: str | None, default: int, maximum: int) -> int:
    """A page size from 1 to `maximum`; `default` when absent."""
    if raw is None:
        return default
    # Bounded before int(): Python refuses to convert more than 4,300 digits (a 500, not a 400).
    if not is_digits(raw, max_len=12) or not 1 <= int(raw) <= maximum:
        raise InvalidRequest(f"limit must be an integer from 1 to {maximum}", code="invalid_limit")
    return int(raw)


def parse_offset(cursor: str | None) -> int:
    """A list's position from the `cursor` a page gave (its offset as text); 0 when absent."""
    if cursor is None:
        return 0
    if not is_digits(cursor, max_len=9):
        raise InvalidRequest("cursor is not one this API gave", code="invalid_cursor")
    return int(cursor)

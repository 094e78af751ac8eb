"""Opaque page tokens and the common list query parameters."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson
from multidict import MultiMapping

from sandbox.errors import bad_request

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 1000


def encode_token(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(data)).decode().rstrip("=")


def decode_token(token: str) -> dict[str, Any]:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise bad_request("nextPageToken is invalid") from exc
    if not isinstance(data, dict):
        raise bad_request("nextPageToken is invalid")
    return data


def page_size(query: MultiMapping[str]) -> int:
    raw = query.get("maxPageSize")
    if raw is None:
        return DEFAULT_PAGE_SIZE
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise bad_request(f"maxPageSize must be an integer from 1 to {MAX_PAGE_SIZE}")
    return int(raw)


def sort_params(query: MultiMapping[str], default_by: str = "updatedAt") -> tuple[str, bool]:
    """(sortBy, descending) — defaults: updatedAt, desc."""
    sort_by = query.get("sortBy", default_by)
    if sort_by not in ("createdAt", "updatedAt"):
        raise bad_request("sortBy must be createdAt or updatedAt")
    sort_dir = query.get("sortDir", "desc")
    if sort_dir not in ("asc", "desc"):
        raise bad_request("sortDir must be asc or desc")
    return sort_by, sort_dir == "desc"


def offset_page(items: list[Any], query: MultiMapping[str]) -> tuple[list[Any], str | None]:
    """Offset paging for the small collections (workflows, versions)."""
    size = page_size(query)
    token = query.get("nextPageToken")
    start = 0
    if token:
        offset = decode_token(token).get("o")
        if not isinstance(offset, int) or offset < 0:
            raise bad_request("nextPageToken is invalid")
        start = offset
    end = start + size
    more = encode_token({"o": end}) if end < len(items) else None
    return items[start:end], more

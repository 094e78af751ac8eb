"""Every platform request the sandbox answered, for tests to inspect.

Entries keep references to what aiohttp already built (the header multidict, the body bytes)
and render them only when the control API asks, so recording stays cheap at benchmark volumes.
Bodies are capped per request and kept only for the most recent requests (see RequestLogConfig).
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

import orjson
from multidict import CIMultiDictProxy

from sandbox.config import RequestLogConfig

DETAILS = frozenset({"headers", "body"})


@dataclass(slots=True)
class RecordedRequest:
    method: str
    path: str
    endpoint: str  # method + route template, e.g. "POST /workflow_runs/{id}"
    query: str
    status: int | None  # None when the connection was dropped without an answer
    at: float  # simulated time
    body_bytes: int
    platform: str
    fault: str | None = None
    headers: CIMultiDictProxy[str] | None = None
    body: bytes | None = None  # the first max_body_bytes; None once evicted or not kept
    body_kept: bool = False

    def to_json(self, include: frozenset[str] = frozenset()) -> dict[str, Any]:
        out: dict[str, Any] = {
            "method": self.method,
            "path": self.path,
            "endpoint": self.endpoint,
            "query": self.query,
            "status": self.status,
            "at": self.at,
            "bodyBytes": self.body_bytes,
            "platform": self.platform,
            "fault": self.fault,
        }
        if "headers" in include:
            out["headers"] = _headers_json(self.headers)
        if "body" in include:
            out["body"] = _body_json(self.body, self.body_bytes) if self.body_kept else None
            out["bodyKept"] = self.body_kept
            out["bodyTruncated"] = self.body_kept and len(self.body or b"") < self.body_bytes
        return out


def _headers_json(headers: CIMultiDictProxy[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in (headers or {}).items():
        key = name.lower()
        # A repeated header is one comma-separated field (RFC 9110, section 5.3).
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


def _body_json(body: bytes | None, size: int) -> Any:
    if not body:
        return None
    if len(body) == size:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    return body.decode("utf-8", "replace")


class RequestLog:
    def __init__(self) -> None:
        self.entries: list[RecordedRequest] = []
        self.counts: Counter[str] = Counter()
        self._with_body: deque[RecordedRequest] = deque()

    def add(self, entry: RecordedRequest, body: bytes, limits: RequestLogConfig) -> None:
        self.entries.append(entry)
        self.counts[entry.endpoint] += 1
        if limits.keep_bodies > 0:
            cap = limits.max_body_bytes
            entry.body = body if len(body) <= cap else body[:cap]
            entry.body_kept = True
            self._with_body.append(entry)
        while len(self._with_body) > limits.keep_bodies:
            old = self._with_body.popleft()
            old.body, old.body_kept = None, False

    @property
    def bodies_kept(self) -> int:
        return len(self._with_body)

    def clear(self) -> None:
        self.entries.clear()
        self.counts.clear()
        self._with_body.clear()

    def select(self, path: str | None, method: str | None) -> list[RecordedRequest]:
        return [
            e
            for e in self.entries
            if (path is None or e.path == path or e.endpoint.endswith(" " + path))
            and (method is None or e.method == method.upper())
        ]

"""Every platform request the sandbox answered, for tests to inspect."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any


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

    def to_json(self) -> dict[str, Any]:
        return {
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


class RequestLog:
    def __init__(self) -> None:
        self.entries: list[RecordedRequest] = []
        self.counts: Counter[str] = Counter()

    def add(self, entry: RecordedRequest) -> None:
        self.entries.append(entry)
        self.counts[entry.endpoint] += 1

    def clear(self) -> None:
        self.entries.clear()
        self.counts.clear()

    def select(self, path: str | None, method: str | None) -> list[RecordedRequest]:
        return [
            e
            for e in self.entries
            if (path is None or e.path == path or e.endpoint.endswith(" " + path))
            and (method is None or e.method == method.upper())
        ]
